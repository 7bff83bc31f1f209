import { Readable } from 'node:stream';
import { LoadBalancer, RoundRobin } from '@pingora-ts/load-balancing';
import { BalancedDispatcher } from '@pingora-ts/load-balancing/undici';
import { buildConnector, errors, request } from 'undici';
import { echo, startBackend, stopAllBackends, type HttpBackend } from './helpers/http-backends';
import { RecordingObserver } from './helpers/recording-observer';
import { closedPort } from './helpers/tcp-server';

const SERVICE = 'http://service.invalid';
const dispatchers: BalancedDispatcher[] = [];

function balanced(
  addrs: string[],
  retries?: number,
  connect?: buildConnector.connector,
): { lb: LoadBalancer; d: BalancedDispatcher; seen: RecordingObserver } {
  const lb = LoadBalancer.fromBackends(addrs, { selection: new RoundRobin() });
  const seen = new RecordingObserver();
  lb.observers.push(seen);
  const d = new BalancedDispatcher({ loadBalancer: lb, ...(retries === undefined ? {} : { retries }), ...(connect ? { connect } : {}) });
  dispatchers.push(d);
  return { lb, d, seen };
}

function inflight(lb: LoadBalancer): number[] {
  return lb.backends().items().map((b) => lb.load.inflight(b));
}

/** A backend that reads the whole request, then closes the connection without answering. */
function startDropper(): Promise<HttpBackend> {
  return startBackend('dropper', (req) => {
    req.resume();
    req.on('end', () => req.socket.destroy());
  });
}

async function send(d: BalancedDispatcher, method: 'GET' | 'POST' | 'PUT', body?: string | Readable, idempotent?: boolean): Promise<string> {
  const { statusCode, body: res } = await request(`${SERVICE}/x`, {
    dispatcher: d,
    method,
    ...(body === undefined ? {} : { body }),
    ...(idempotent === undefined ? {} : { idempotent }),
  });
  expect(statusCode).toBe(200);
  const got = (await res.json()) as { name: string; body: string };
  return `${got.name}:${got.body}`;
}

afterEach(async () => {
  await Promise.all(dispatchers.splice(0).map((d) => d.destroy()));
  await stopAllBackends();
});

describe('BalancedDispatcher failover', () => {
  it('a backend killed during 300 GETs at concurrency 10 costs no request', async () => {
    // Answers after a few ms, so requests are in flight on beta when it is killed.
    const slowEcho = (delay: number) => (req: Parameters<typeof echo>[0], res: Parameters<typeof echo>[1], name: string) =>
      void setTimeout(() => echo(req, res, name), delay);
    const [alpha, beta, gamma] = await Promise.all([
      startBackend('alpha', slowEcho(2)),
      startBackend('beta', slowEcho(2)),
      startBackend('gamma', slowEcho(2)),
    ]);
    const { lb, d, seen } = balanced([alpha.addr, beta.addr, gamma.addr]);

    const answers: Record<string, number> = { alpha: 0, beta: 0, gamma: 0 };
    const failures: string[] = [];
    let next = 0;
    let betaInFlightAtKill = -1;
    const worker = async (): Promise<void> => {
      while (next < 300) {
        const i = next++;
        if (i === 100) {
          betaInFlightAtKill = lb.load.inflight(lb.backends().get(beta.addr)!);
          beta.kill();
        }
        try {
          answers[(await send(d, 'GET')).split(':')[0]!]!++;
        } catch (err) {
          failures.push(String(err));
        }
      }
    };
    await Promise.all(Array.from({ length: 10 }, worker));

    expect(failures).toEqual([]);
    expect(answers.alpha! + answers.beta! + answers.gamma!).toBe(300);
    expect(betaInFlightAtKill).toBeGreaterThanOrEqual(0);
    // Every failed attempt was beta's (reset in flight, then refused), each retried elsewhere.
    const failed = seen.ended.filter((e) => e.outcome !== 'ok');
    expect(failed.length).toBeGreaterThan(0);
    expect(failed.every((e) => e.addr === beta.addr && (e.outcome === 'reset' || e.outcome === 'connect_error'))).toBe(true);
    expect(seen.started.length).toBe(300 + failed.length);
    expect(seen.ended.length).toBe(seen.started.length);
    expect(inflight(lb)).toEqual([0, 0, 0]);
  });

  it('with retries: 0, the failure reaches the caller', async () => {
    const port = await closedPort();
    const good = await startBackend('good');
    const { d, seen } = balanced([`127.0.0.1:${port}`, good.addr], 0);
    await expect(send(d, 'GET')).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    expect(seen.endings()).toEqual([`127.0.0.1:${port} connect_error`]);
    expect(good.received).toBe(0);
  });

  it('retries a GET reset before any response byte on the next backend', async () => {
    const dropper = await startDropper();
    const good = await startBackend('good');
    const { d, lb, seen } = balanced([dropper.addr, good.addr]);
    expect(await send(d, 'GET')).toBe('good:');
    expect(seen.endings()).toEqual([`${dropper.addr} reset`, `${good.addr} ok`]);
    expect(inflight(lb)).toEqual([0, 0]);
  });

  it('does not retry a POST once it may have reached the backend', async () => {
    const dropper = await startDropper();
    const good = await startBackend('good');
    const { d, lb, seen } = balanced([dropper.addr, good.addr]);
    await expect(send(d, 'POST', 'pay once')).rejects.toMatchObject({ code: 'UND_ERR_SOCKET' });
    expect(dropper.received).toBe(1);
    expect(good.received).toBe(0);
    expect(seen.endings()).toEqual([`${dropper.addr} reset`]);
    expect(inflight(lb)).toEqual([0, 0]);
  });

  it('retries a POST marked idempotent, with its body', async () => {
    const dropper = await startDropper();
    const good = await startBackend('good');
    const { d } = balanced([dropper.addr, good.addr]);
    expect(await send(d, 'POST', 'same again', true)).toBe('good:same again');
    expect(dropper.received).toBe(1);
  });

  it('does not retry a PUT whose stream body was already sent', async () => {
    const dropper = await startDropper();
    const good = await startBackend('good');
    const { d, seen } = balanced([dropper.addr, good.addr]);
    await expect(send(d, 'PUT', Readable.from(['streamed ', 'once']))).rejects.toMatchObject({ code: 'UND_ERR_SOCKET' });
    expect(good.received).toBe(0);
    expect(seen.endings()).toEqual([`${dropper.addr} reset`]);
  });

  it('retries any request, stream body included, when the connection was refused (nothing was sent)', async () => {
    const port = await closedPort();
    const good = await startBackend('good');
    const { d, seen } = balanced([`127.0.0.1:${port}`, good.addr]);
    expect(await send(d, 'POST', Readable.from(['streamed ', 'body']))).toBe('good:streamed body');
    expect(seen.endings()).toEqual([`127.0.0.1:${port} connect_error`, `${good.addr} ok`]);
  });

  it('tries each backend at most once, then gives the last error', async () => {
    const dropper = await startDropper();
    const port = await closedPort();
    const { d, lb, seen } = balanced([dropper.addr, `127.0.0.1:${port}`], 5);
    await expect(send(d, 'GET')).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    expect(seen.endings()).toEqual([`${dropper.addr} reset`, `127.0.0.1:${port} connect_error`]);
    expect(inflight(lb)).toEqual([0, 0]);
  });

  it('a connect timeout is a connect_error, retried on the next backend (the `connect` option used)', async () => {
    const good = await startBackend('good');
    const port = await closedPort();
    // A connector that never reaches `port` in time, as a host that drops SYNs would; the
    // other backends get undici's own connector.
    const real = buildConnector({});
    const connect: buildConnector.connector = (opts, cb) => {
      if (Number(opts.port) === port) setTimeout(() => cb(new errors.ConnectTimeoutError(), null), 20);
      else real(opts, cb);
    };
    const { d, seen } = balanced([`127.0.0.1:${port}`, good.addr], undefined, connect);
    expect(await send(d, 'POST', 'once')).toBe('good:once');
    expect(seen.endings()).toEqual([`127.0.0.1:${port} connect_error`, `${good.addr} ok`]);
  });
});
