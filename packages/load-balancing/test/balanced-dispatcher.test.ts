import { Writable } from 'node:stream';
import { Backend, LoadBalancer, RoundRobin } from '@pingora-ts/load-balancing';
import { BalancedDispatcher } from '@pingora-ts/load-balancing/undici';
import { fetch, getGlobalDispatcher, interceptors, pipeline, request, setGlobalDispatcher, stream, upgrade, type Dispatcher } from 'undici';
import { startBackend, stopAllBackends, type HttpBackend } from './helpers/http-backends';
import { RecordingObserver } from './helpers/recording-observer';
import { waitFor } from './helpers/tcp-server';

/** The host in these URLs is never resolved: the dispatcher picks the backend. */
const SERVICE = 'http://service.invalid';

const dispatchers: BalancedDispatcher[] = [];

/** A dispatcher over `backends` (addresses or `Backend`s), with a recording observer; destroyed after the test. */
function balanced(
  backends: Array<string | Backend>,
  opts: Partial<ConstructorParameters<typeof BalancedDispatcher>[0]> = {},
): { lb: LoadBalancer; d: BalancedDispatcher; seen: RecordingObserver } {
  const lb = LoadBalancer.fromBackends(backends, { selection: new RoundRobin() });
  const seen = new RecordingObserver();
  lb.observers.push(seen);
  const d = new BalancedDispatcher({ loadBalancer: lb, ...opts });
  dispatchers.push(d);
  return { lb, d, seen };
}

/** Requests in flight on every backend of `lb`, as its load tracker counts them. */
function inflight(lb: LoadBalancer): number[] {
  return lb.backends().items().map((b) => lb.load.inflight(b));
}

async function getJson(d: Dispatcher, path = '/'): Promise<{ name: string; url: string; test: string | null }> {
  const { statusCode, body } = await request(`${SERVICE}${path}`, { dispatcher: d });
  expect(statusCode).toBe(200);
  return (await body.json()) as { name: string; url: string; test: string | null };
}

afterEach(async () => {
  await Promise.all(dispatchers.splice(0).map((d) => d.destroy()));
  await stopAllBackends();
});

describe('BalancedDispatcher', () => {
  it('sends each request to the backend the load balancer selects, keeping path, query and headers', async () => {
    const [a, b, c] = await Promise.all(['a', 'b', 'c'].map((n) => startBackend(n))) as [HttpBackend, HttpBackend, HttpBackend];
    const { lb, d, seen } = balanced([new Backend(a.addr, 1), new Backend(b.addr, 2), new Backend(c.addr, 3)]);

    const counts: Record<string, number> = { a: 0, b: 0, c: 0 };
    for (let i = 0; i < 60; i++) {
      const { statusCode, body } = await request(`${SERVICE}/items/${i}?q=x%20y`, { dispatcher: d, headers: { 'x-test': `t${i}` } });
      expect(statusCode).toBe(200);
      const got = (await body.json()) as { name: string; url: string; host: string; test: string };
      // undici's Host is the backend's address, not the URL's.
      const addr = { a: a.addr, b: b.addr, c: c.addr }[got.name];
      expect(got).toMatchObject({ url: `/items/${i}?q=x%20y`, host: addr, test: `t${i}` });
      counts[got.name]!++;
    }
    // Smooth weighted round robin is exact over every 6 picks.
    expect(counts).toEqual({ a: 10, b: 20, c: 30 });
    expect(seen.started).toHaveLength(60);
    expect(seen.outcomes()).toEqual({ ok: 60 });
    expect(inflight(lb)).toEqual([0, 0, 0]);
  });

  it('works with request, fetch, stream and pipeline given as `dispatcher`', async () => {
    const a = await startBackend('a');
    const { d, lb } = balanced([a.addr]);

    const viaRequest = await request(`${SERVICE}/r`, { dispatcher: d });
    expect(((await viaRequest.body.json()) as { url: string }).url).toBe('/r');

    const res = await fetch(`${SERVICE}/f?x=1`, { dispatcher: d, method: 'POST', body: 'hello' });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ name: 'a', method: 'POST', url: '/f?x=1', body: 'hello' });

    const chunks: Buffer[] = [];
    await stream(`${SERVICE}/s`, { dispatcher: d, method: 'GET' }, () => new Writable({
      write(chunk: Buffer, _enc, cb) {
        chunks.push(chunk);
        cb();
      },
    }));
    expect(JSON.parse(Buffer.concat(chunks).toString())).toMatchObject({ url: '/s' });

    const piped: Buffer[] = [];
    await new Promise<void>((resolve, reject) => {
      const duplex = pipeline(`${SERVICE}/p`, { dispatcher: d, method: 'PUT' }, ({ body }) => body);
      duplex.on('data', (c: Buffer) => piped.push(c)).on('end', resolve).on('error', reject);
      duplex.end('piped body');
    });
    expect(JSON.parse(Buffer.concat(piped).toString())).toMatchObject({ method: 'PUT', url: '/p', body: 'piped body' });
    expect(inflight(lb)).toEqual([0]);
  });

  // Node's own fetch reads the same global, but not jest's sandboxed one: the README example
  // (a real process, test/readme-example.test.ts) uses it.
  it("works as the global dispatcher, for undici's request and fetch", async () => {
    const a = await startBackend('a');
    const { d, lb, seen } = balanced([a.addr]);
    const previous = getGlobalDispatcher();
    setGlobalDispatcher(d);
    try {
      const r = await request(`${SERVICE}/global-request`);
      expect(((await r.body.json()) as { url: string }).url).toBe('/global-request');
      const f = await fetch(`${SERVICE}/global-fetch`);
      expect(((await f.json()) as { url: string }).url).toBe('/global-fetch');
    } finally {
      setGlobalDispatcher(previous);
    }
    expect(seen.endings()).toEqual([`${a.addr} ok`, `${a.addr} ok`]);
    expect(inflight(lb)).toEqual([0]);
  });

  it('passes an upgraded connection on (reported ok at the 101)', async () => {
    const a = await startBackend('a');
    const { d, lb, seen } = balanced([a.addr]);
    a.server.on('upgrade', (req, socket) => {
      socket.write('HTTP/1.1 101 Switching Protocols\r\nconnection: upgrade\r\nupgrade: echo\r\n\r\n');
      socket.on('data', (chunk: Buffer) => socket.end(`echo ${req.url} ${chunk.toString()}`));
    });
    const { socket } = await upgrade(`${SERVICE}/tunnel`, { dispatcher: d, protocol: 'echo' });
    const reply = await new Promise<string>((resolve, reject) => {
      let text = '';
      socket.on('data', (c: Buffer) => (text += c.toString())).on('end', () => resolve(text)).on('error', reject);
      socket.write('ping');
    });
    socket.destroy();
    expect(reply).toBe('echo /tunnel ping');
    expect(seen.endings()).toEqual([`${a.addr} ok`]);
    expect(inflight(lb)).toEqual([0]);
  });

  it('takes undici 7 new-style handlers, directly and through compose() interceptors', async () => {
    const a = await startBackend('a');
    const { d } = balanced([a.addr]);

    const direct = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const chunks: Buffer[] = [];
      let status = 0;
      d.dispatch(
        { origin: SERVICE, path: '/new-style', method: 'GET' },
        {
          onRequestStart() {},
          onResponseStart(_c, statusCode) {
            status = statusCode;
          },
          onResponseData(_c, chunk) {
            chunks.push(chunk);
          },
          onResponseEnd() {
            resolve({ status, body: Buffer.concat(chunks).toString() });
          },
          onResponseError(_c, err) {
            reject(err);
          },
        },
      );
    });
    expect(direct.status).toBe(200);
    expect(JSON.parse(direct.body)).toMatchObject({ url: '/new-style' });

    // undici's retry interceptor wraps the caller's handler in its (new-style) RetryHandler.
    const composed = d.compose(interceptors.retry({ maxRetries: 1 }));
    const r = await request(`${SERVICE}/composed`, { dispatcher: composed });
    expect(((await r.body.json()) as { url: string }).url).toBe('/composed');
  });

  it('reports each attempt once: ok, http_5xx by status, with the latency to the response head', async () => {
    const failing = await startBackend('failing', (_req, res) => {
      res.statusCode = 503;
      res.end('busy');
    });
    const { d, lb, seen } = balanced([failing.addr]);
    const { statusCode, body } = await request(`${SERVICE}/`, { dispatcher: d });
    expect(statusCode).toBe(503); // a response is a response: never retried
    expect(await body.text()).toBe('busy');
    expect(seen.endings()).toEqual([`${failing.addr} http_5xx`]);
    expect(seen.ended[0]!.latencyMs).toBeGreaterThanOrEqual(0);
    expect(failing.received).toBe(1);
    expect(inflight(lb)).toEqual([0]);
  });

  it('a headers timeout is reported as a timeout and not retried', async () => {
    const silent = await startBackend('silent', () => {});
    const other = await startBackend('other');
    const { d, lb, seen } = balanced([silent.addr, other.addr], { clientOptions: { headersTimeout: 200 } });
    await expect(request(`${SERVICE}/`, { dispatcher: d })).rejects.toMatchObject({ code: 'UND_ERR_HEADERS_TIMEOUT' });
    expect(seen.endings()).toEqual([`${silent.addr} timeout`]);
    expect(other.received).toBe(0);
    expect(inflight(lb)).toEqual([0, 0]);
  });

  it('fails with NoHealthyUpstream when no backend is ready', async () => {
    const a = await startBackend('a');
    const { d, lb, seen } = balanced([a.addr]);
    lb.backends().setHealth(a.addr, false);
    await expect(request(`${SERVICE}/`, { dispatcher: d })).rejects.toMatchObject({ kind: 'NoHealthyUpstream' });
    expect(seen.started).toEqual([]);
  });

  it('balances on the key it computes from each request', async () => {
    const backends = await Promise.all(['a', 'b', 'c'].map((n) => startBackend(n)));
    const keys: string[] = [];
    const { d } = balanced(
      backends.map((b) => b.addr),
      { key: (opts) => { keys.push(opts.path); return opts.path; } },
    );
    await getJson(d, '/one');
    await getJson(d, '/two');
    expect(keys).toEqual(['/one', '/two']);
  });

  it('closes the pool of a backend removed from the load balancer', async () => {
    const [a, b, c] = await Promise.all(['a', 'b', 'c'].map((n) => startBackend(n))) as [HttpBackend, HttpBackend, HttpBackend];
    const { lb, d } = balanced([a.addr, b.addr, c.addr]);
    const disconnected: string[] = [];
    d.on('disconnect', (origin) => disconnected.push(String(origin)));
    for (let i = 0; i < 6; i++) await getJson(d);
    expect(c.openConnections).toBe(1); // kept alive by c's pool

    lb.backends().replace([new Backend(a.addr), new Backend(b.addr)]);
    await waitFor(() => c.openConnections === 0, 5000, "c's pool to close its connection");
    await waitFor(() => disconnected.length > 0, 5000, 'the disconnect event');
    expect(disconnected).toEqual([`http://${c.addr}/`]);

    const names: string[] = [];
    for (let i = 0; i < 6; i++) names.push((await getJson(d)).name);
    expect(names.sort()).toEqual(['a', 'a', 'a', 'b', 'b', 'b']);
    expect(a.openConnections + b.openConnections).toBe(2);
  });

  it('close() refuses new requests, lets those in flight finish, then closes every pool', async () => {
    let release: () => void = () => {};
    const held = new Promise<void>((resolve) => (release = resolve));
    const slow = await startBackend('slow', (_req, res) => void held.then(() => res.end('late')));
    const { d, lb } = balanced([slow.addr]);
    const inFlight = request(`${SERVICE}/`, { dispatcher: d });
    await waitFor(() => slow.received === 1, 5000, 'the request to arrive');

    const closed = d.close();
    expect(d.closed).toBe(true);
    await expect(request(`${SERVICE}/`, { dispatcher: d })).rejects.toMatchObject({ code: 'UND_ERR_CLOSED' });
    release();
    const { body } = await inFlight;
    expect(await body.text()).toBe('late');
    await closed;
    expect(d.destroyed).toBe(true);
    await waitFor(() => slow.openConnections === 0, 5000, 'the pool to close its connection');
    expect(inflight(lb)).toEqual([0]);
    await d.close(); // again: the same close
  });

  it('destroy() fails the requests in flight at once, without retrying them', async () => {
    const silent = await startBackend('silent', () => {});
    const other = await startBackend('other');
    const { d, lb, seen } = balanced([silent.addr, other.addr]);
    const inFlight = request(`${SERVICE}/`, { dispatcher: d });
    await waitFor(() => silent.received === 1, 5000, 'the request to arrive');
    await d.destroy();
    await expect(inFlight).rejects.toMatchObject({ code: 'UND_ERR_DESTROYED' });
    expect(seen.ended).toHaveLength(1);
    expect(other.received).toBe(0);
    expect(inflight(lb)).toEqual([0, 0]);
    await waitFor(() => silent.openConnections === 0, 5000, 'the connection to close');
  });

  it('rejects invalid options with an error naming the option', () => {
    const lb = LoadBalancer.fromBackends(['127.0.0.1:1']);
    expect(() => new BalancedDispatcher({ loadBalancer: lb, retries: -1 })).toThrow(/BalancedDispatcher: retries must be an integer >= 0, got -1/);
    expect(() => new BalancedDispatcher({ loadBalancer: lb, maxIterations: 0 })).toThrow(/maxIterations must be an integer >= 1/);
    expect(() => new BalancedDispatcher({} as never)).toThrow(/loadBalancer must be a LoadBalancer/);
  });
});
