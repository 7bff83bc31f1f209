import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Backend, LoadBalancer, RequestObserver, RequestOutcome } from '@pingora-ts/load-balancing';
import { AccessLogger } from '@pingora-ts/observability';
import { HttpProxy } from '@pingora-ts/proxy';
import { Agent, request } from 'undici';
import { Resources, until } from '../../../test-support/resources';
import { lbConfSchema } from '../src/lb-conf';
import { LbProxy } from '../src/lb-proxy';
import { buildLoadBalancer } from '../src/build-load-balancer';

/** Every report the load balancer received, in order. */
class Recorder implements RequestObserver {
  readonly events: string[] = [];
  requestStarted(b: Backend): void {
    this.events.push(`start ${b.addr}`);
  }
  requestEnded(b: Backend, outcome: RequestOutcome, latencyMs: number): void {
    expect(latencyMs).toBeGreaterThanOrEqual(0);
    this.events.push(`end ${b.addr} ${outcome}`);
  }
}

const res = new Resources();
let agent: Agent;
beforeEach(() => {
  agent = new Agent({ connections: 8 });
});
afterEach(async () => {
  await agent.close();
  await res.closeAll();
});

/** The app's LbProxy over `addrs` with `upstreams` settings, in this process, on 127.0.0.1:0. */
async function startLb(addrs: string[], upstreams: Record<string, unknown> = {}): Promise<{ lb: LoadBalancer; url: string; rec: Recorder }> {
  const conf = lbConfSchema.parse({
    services: [{ name: 'web', listeners: [{ addr: '127.0.0.1:0' }], upstreams: { backends: addrs, ...upstreams } }],
  });
  const up = conf.services[0]!.upstreams;
  const lb = buildLoadBalancer(up); // as the app builds it (a hashing selection gets its keyless round robin)
  const rec = new Recorder();
  lb.observers.push(rec);
  const proxy = new HttpProxy('web', new LbProxy(lb, up, new AccessLogger({ path: false })), {
    listeners: [{ addr: '127.0.0.1:0' }],
    maxRetries: 2,
  });
  await proxy.listen();
  res.defer(() => proxy.shutdown({ graceful: false, timeoutMs: 0 }));
  const a = proxy.addresses()[0]!;
  if (a.kind !== 'tcp') throw new Error('no tcp address');
  return { lb, url: `http://127.0.0.1:${a.port}`, rec };
}

async function get(url: string): Promise<{ status: number; body: string }> {
  const r = await request(url, { dispatcher: agent });
  return { status: r.statusCode, body: await r.body.text() };
}

/** Waits until nothing is in flight on any backend, then checks every start had one end. */
async function expectAllEnded(lb: LoadBalancer, rec: Recorder): Promise<void> {
  await until(() => lb.backends().items().every((b) => lb.load.inflight(b) === 0), 3000, 'in flight back to 0');
  for (const b of lb.backends().items()) {
    const starts = rec.events.filter((e) => e === `start ${b.addr}`).length;
    const ends = rec.events.filter((e) => e.startsWith(`end ${b.addr} `)).length;
    expect(ends).toBe(starts);
  }
}

test('least_conn sends new requests to the idle backend while another holds a slow one; in flight back to 0', async () => {
  const held: ServerResponse[] = [];
  const handler = (name: string) => (req: IncomingMessage, out: ServerResponse) => {
    req.resume();
    if (req.url === '/slow') held.push(out);
    else out.end(name);
  };
  const a = await res.httpServer(handler('a'));
  const b = await res.httpServer(handler('b'));
  const { lb, url, rec } = await startLb([a.address, b.address], { selection: 'least_conn' });

  const slow = get(`${url}/slow`);
  await until(() => held.length === 1, 3000, 'the slow request to arrive');
  const busy = lb.backends().items().find((x) => lb.load.inflight(x) === 1)!;
  const idleName = busy.addr === a.address ? 'b' : 'a';
  for (let i = 0; i < 5; i++) expect(await get(`${url}/fast/${i}`)).toEqual({ status: 200, body: idleName });
  expect(lb.load.inflight(busy)).toBe(1);

  held[0]!.end('slow');
  expect((await slow).body).toBe('slow');
  await expectAllEnded(lb, rec);
  expect(rec.events.filter((e) => e.startsWith('end')).every((e) => e.endsWith(' ok'))).toBe(true);
});

test('a failed connect is reported as connect_error, the retry as its own attempt; nothing stays in flight', async () => {
  const dead = `127.0.0.1:${await res.refusedPort()}`;
  const live = await res.httpServer((req, out) => {
    req.resume();
    out.end('live');
  });
  const { lb, url, rec } = await startLb([dead, live.address], { selection: 'least_conn' });
  // least_conn starts at the first backend: the dead one, then the retry goes to the live one.
  expect(await get(`${url}/x`)).toEqual({ status: 200, body: 'live' });
  await expectAllEnded(lb, rec);
  expect(rec.events.slice(0, 4)).toEqual([`start ${dead}`, `end ${dead} connect_error`, `start ${live.address}`, `end ${live.address} ok`]);
});

test('outcomes: http_5xx by status, reset for a connection that breaks, timeout for a read timeout', async () => {
  const five = await res.httpServer((req, out) => {
    req.resume();
    out.statusCode = 503;
    out.end('busy');
  });
  const broken = await res.httpServer((req) => req.socket.destroy());
  const silent = await res.httpServer((req) => req.resume());
  for (const [backend, outcome, status] of [
    [five.address, 'http_5xx', 503],
    [broken.address, 'reset', 502],
    [silent.address, 'timeout', 504],
  ] as const) {
    const { lb, url, rec } = await startLb([backend], { read_timeout_ms: 200 });
    expect((await get(`${url}/y`)).status).toBe(status);
    await expectAllEnded(lb, rec);
    expect(rec.events).toEqual([`start ${backend}`, `end ${backend} ${outcome}`]);
  }
});

test('a hashing selection sends a key to one backend, and a request without the key round robin', async () => {
  const servers = await Promise.all(
    ['a', 'b', 'c'].map((name) =>
      res.httpServer((req, out) => {
        req.resume();
        out.end(name);
      }),
    ),
  );
  const { lb, url, rec } = await startLb(
    servers.map((s) => s.address),
    { selection: 'ketama', hash_key: 'header:X-User' },
  );
  for (const user of ['ann', 'bob', 'cyd', 'dan']) {
    const seen = new Set<string>();
    for (let i = 0; i < 5; i++) {
      const r = await request(`${url}/p/${i}`, { dispatcher: agent, headers: { 'x-user': user } });
      seen.add(await r.body.text());
    }
    expect(seen.size).toBe(1);
  }
  const noKey = new Set<string>();
  for (let i = 0; i < 3; i++) noKey.add((await get(`${url}/q`)).body);
  expect(noKey).toEqual(new Set(['a', 'b', 'c']));
  await expectAllEnded(lb, rec);
});
