import { Readable } from 'node:stream';
import { HttpPeer, type ProxyHttp } from '@pingora-ts/proxy';
import { DOWNSTREAMS, Resources, client, sleep, startProxy, useDownstream } from './resources';

const res = new Resources();
afterEach(() => res.closeAll());

async function echoUpstream() {
  return res.httpServer((req, r) => {
    const parts: Buffer[] = [];
    req.on('data', (d: Buffer) => parts.push(d));
    req.on('end', () => {
      r.setHeader('x-upstream-te', req.headers['transfer-encoding'] ?? 'none');
      r.setHeader('x-upstream-cl', req.headers['content-length'] ?? 'none');
      r.write('echo:');
      r.end(Buffer.concat(parts));
    });
  });
}

describe.each(DOWNSTREAMS)('%s downstream', (downstream) => {
  beforeEach(() => useDownstream(downstream));

  test('sync body filters rewrite both directions; Content-Length removed means chunked upstream', async () => {
    const up = await echoUpstream();
    const peer = new HttpPeer(up.address);
    const app: ProxyHttp<{ n: number }> = {
      newCtx: () => ({ n: 0 }),
      upstreamPeer: () => peer,
      upstreamRequestFilter: (_s, req) => {
        req.headers.remove('content-length');
      },
      requestBodyFilter: (_s, chunk, end) => {
        if (end) return Buffer.from('[end]');
        return chunk === null ? undefined : Buffer.from(chunk.toString().toUpperCase());
      },
      responseFilter: (_s, resp) => {
        resp.headers.remove('content-length');
      },
      responseBodyFilter: (_s, chunk, end, ctx) => {
        if (end) return Buffer.from(`|chunks=${ctx.n}`);
        ctx.n++;
        return chunk;
      },
    };
    const { url } = await startProxy(res, app);
    const r = await client(res, url).request({ path: '/', method: 'POST', body: 'hello body' });
    const text = await r.body.text();
    expect(r.headers['x-upstream-te']).toBe('chunked');
    expect(r.headers['x-upstream-cl']).toBe('none');
    expect(text).toMatch(/^echo:HELLO BODY\[end\]\|chunks=\d+$/);
  });

  test('async body filters keep order and backpressure; null drops a chunk', async () => {
    const up = await echoUpstream();
    const peer = new HttpPeer(up.address);
    const app: ProxyHttp<null> = {
      newCtx: () => null,
      upstreamPeer: () => peer,
      requestBodyFilter: async (_s, chunk) => {
        await sleep(2);
        if (chunk !== null && chunk.toString() === 'drop') return null;
        return undefined;
      },
      responseBodyFilter: async (_s, chunk) => {
        await sleep(1);
        return chunk === null ? undefined : Buffer.from(chunk.toString().replace(/-/g, '+'));
      },
    };
    const { url } = await startProxy(res, app);
    async function* parts() {
      for (const p of ['a-', 'drop', 'b-', 'c']) {
        yield Buffer.from(p);
        await sleep(5);
      }
    }
    const r = await client(res, url).request({ path: '/', method: 'PUT', body: Readable.from(parts()) });
    expect(await r.body.text()).toBe('echo:a+b+c');
  });

  test('a body filter that throws fails the request: 500 before the head, dropped connection after', async () => {
    const up = await echoUpstream();
    const peer = new HttpPeer(up.address);
    const { url } = await startProxy(res, {
      newCtx: () => null,
      upstreamPeer: () => peer,
      requestBodyFilter: () => {
        throw new Error('filter bug');
      },
    } satisfies ProxyHttp<null>);
    const r = await client(res, url).request({ path: '/', method: 'POST', body: 'x' });
    expect(r.statusCode).toBe(500);
    await r.body.text();

    const { url: url2 } = await startProxy(res, {
      newCtx: () => null,
      upstreamPeer: () => peer,
      responseBodyFilter: () => {
        throw new Error('filter bug');
      },
    } satisfies ProxyHttp<null>);
    // The head was handed to node:http but not flushed: the connection is dropped, the client sees an error.
    const r2 = client(res, url2).request({ path: '/', method: 'POST', body: 'x' });
    await expect(r2.then((r) => r.body.text())).rejects.toThrow();
  });

  test('the response head goes downstream at once, before a slow body', async () => {
    const up = await res.httpServer((_req, r) => {
      r.writeHead(200, { 'content-type': 'text/event-stream' });
      r.write(''); // node:http flushes the head
      setTimeout(() => r.end('data: late\n\n'), 300);
    });
    const peer = new HttpPeer(up.address);
    const { url } = await startProxy(res, { newCtx: () => null, upstreamPeer: () => peer });
    const started = Date.now();
    const r = await client(res, url).request({ path: '/events', method: 'GET' });
    const headAfter = Date.now() - started;
    expect(r.headers['content-type']).toBe('text/event-stream');
    expect(headAfter).toBeLessThan(250);
    expect(await r.body.text()).toBe('data: late\n\n');
  });
});
