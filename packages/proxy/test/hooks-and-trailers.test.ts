/**
 * What any hook may do to the lifecycle: return a thenable of any kind (one rule for every
 * hook, body filters included), throw or reject (the request is answered 500, logged with its
 * context and stack, and the process keeps serving), and response trailers passing through.
 */
import { HttpPeer, type BodyFilterResult, type ProxyHttp } from '@pingora-ts/proxy';
import { DOWNSTREAMS, MemoryLogger, Resources, client, sleep, startProxy, useDownstream } from './resources';

const res = new Resources();
afterEach(() => res.closeAll());

/** A thenable that is not a Promise (as some libraries return), settling after a macrotask. */
function later<T>(value: T): PromiseLike<T> {
  return {
    then<R1 = T, R2 = never>(onFulfilled?: ((v: T) => R1 | PromiseLike<R1>) | null, onRejected?: ((e: unknown) => R2 | PromiseLike<R2>) | null): PromiseLike<R1 | R2> {
      return new Promise<T>((resolve) => setTimeout(resolve, 2, value)).then(onFulfilled, onRejected);
    },
  };
}

async function echoUpstream() {
  return res.httpServer((req, r) => {
    const parts: Buffer[] = [];
    req.on('data', (d: Buffer) => parts.push(d));
    req.on('end', () => r.end(`echo:${Buffer.concat(parts).toString()}`));
  });
}

describe.each(DOWNSTREAMS)('%s downstream', (downstream) => {
  beforeEach(() => useDownstream(downstream));

  test('body filters that return a non-Promise thenable are awaited, like every other hook', async () => {
    const up = await echoUpstream();
    const peer = new HttpPeer(up.address);
    const upper = (chunk: Buffer | null): PromiseLike<BodyFilterResult> => later(chunk === null ? undefined : Buffer.from(chunk.toString().toUpperCase()));
    const app: ProxyHttp<null> = {
      newCtx: () => null,
      upstreamPeer: () => later(peer) as Promise<HttpPeer>,
      requestBodyFilter: (_s, chunk) => upper(chunk) as Promise<BodyFilterResult>,
      responseFilter: (_s, resp) => {
        resp.headers.remove('content-length');
      },
      responseBodyFilter: (_s, chunk, end) => (end ? later(Buffer.from('!')) : upper(chunk)) as Promise<BodyFilterResult>,
    };
    const { url } = await startProxy(res, app);
    const r = await client(res, url).request({ path: '/', method: 'POST', body: 'abc' });
    expect(r.statusCode).toBe(200);
    expect(await r.body.text()).toBe('ECHO:ABC!');
  });

  test.each([
    ['requestFilter rejects later', { requestFilter: async () => { await sleep(5); throw new Error('boom in requestFilter'); } }],
    ['upstreamRequestFilter throws', { upstreamRequestFilter: () => { throw new Error('boom in upstreamRequestFilter'); } }],
    ['responseFilter rejects', { responseFilter: () => Promise.reject(new Error('boom in responseFilter')) }],
  ] as Array<[string, Partial<ProxyHttp<null>>]>)('%s: 500, an error line with the request and the stack, and the next request is served', async (_name, hooks) => {
    const up = await echoUpstream();
    const peer = new HttpPeer(up.address);
    let fail = true;
    const logger = new MemoryLogger();
    const wrapped: Partial<ProxyHttp<null>> = {};
    for (const [name, fn] of Object.entries(hooks)) {
      (wrapped as Record<string, unknown>)[name] = (...args: unknown[]) => (fail ? (fn as (...a: unknown[]) => unknown)(...args) : undefined);
    }
    const { url } = await startProxy(res, { newCtx: () => null, upstreamPeer: () => peer, ...wrapped } as ProxyHttp<null>, { logger });
    const c = client(res, url);
    const r = await c.request({ path: '/p?x=1', method: 'GET' });
    expect(r.statusCode).toBe(500);
    await r.body.text();
    const line = logger.lines.find((l) => l.level === 'error' && l.msg === 'proxy request failed');
    expect(line?.obj).toMatchObject({ kind: 'InternalError', source: 'internal', status: 500, method: 'GET', path: '/p?x=1', err: expect.stringContaining('boom') });
    expect(line?.obj.stack).toEqual(expect.stringContaining('hooks-and-trailers.test.ts'));
    fail = false;
    const ok = await c.request({ path: '/again', method: 'GET' });
    expect(ok.statusCode).toBe(200);
    expect(await ok.body.text()).toBe('echo:');
  });

  test('a logging hook that rejects is logged; the response already went out', async () => {
    const up = await echoUpstream();
    const peer = new HttpPeer(up.address);
    const logger = new MemoryLogger();
    const { url } = await startProxy(res, { newCtx: () => null, upstreamPeer: () => peer, logging: () => Promise.reject(new Error('log sink down')) }, { logger });
    const r = await client(res, url).request({ path: '/', method: 'GET' });
    expect(await r.body.text()).toBe('echo:');
    await sleep(20);
    expect(logger.lines.find((l) => l.msg === 'logging hook threw')?.obj).toMatchObject({ method: 'GET', path: '/' });
  });

  test('response trailers of a chunked upstream response reach the client', async () => {
    const up = await res.httpServer((_req, r) => {
      r.writeHead(200, { 'content-type': 'text/plain', trailer: 'x-checksum' });
      r.write('part1,');
      r.write('part2');
      r.addTrailers({ 'x-checksum': 'abc123', 'x-more': 'yes' });
      r.end();
    });
    const { url } = await startProxy(res, { newCtx: () => null, upstreamPeer: () => new HttpPeer(up.address) });
    const r = await client(res, url).request({ path: '/', method: 'GET' });
    expect(await r.body.text()).toBe('part1,part2');
    expect(r.trailers).toEqual({ 'x-checksum': 'abc123', 'x-more': 'yes' });
  });
});
