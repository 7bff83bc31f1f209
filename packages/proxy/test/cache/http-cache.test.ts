/**
 * The HTTP cache in the proxy, against a real origin that counts its requests: hits, misses,
 * the cache lock, revalidation, stale serving, HEAD, ranges, PURGE and invalidation.
 */
import type * as http from 'node:http';
import { HttpCache, HttpPeer, type HttpProxy, type HttpProxyOptions, type ProxyHttp } from '@pingora-ts/proxy';
import { request } from 'undici';
import { DOWNSTREAMS, MemoryLogger, Resources, sleep, startProxy, until, useDownstream } from '../resources';

const res = new Resources();
afterEach(() => res.closeAll());

type Handler = (req: http.IncomingMessage, res: http.ServerResponse, n: number) => void;

/** An origin that counts requests per path and answers with `handler`. */
async function origin(handler: Handler): Promise<{ peer: HttpPeer; count: (path?: string) => number; seen: http.IncomingHttpHeaders[] }> {
  const counts = new Map<string, number>();
  const seen: http.IncomingHttpHeaders[] = [];
  let total = 0;
  const { address } = await res.httpServer((req, rsp) => {
    const n = (counts.get(req.url as string) ?? 0) + 1;
    counts.set(req.url as string, n);
    total++;
    seen.push(req.headers);
    handler(req, rsp, n);
  });
  return { peer: new HttpPeer(address), count: (p) => (p === undefined ? total : (counts.get(p) ?? 0)), seen };
}

function app(peer: HttpPeer): ProxyHttp<null> {
  return { newCtx: () => null, upstreamPeer: () => peer };
}

async function get(url: string, headers: Record<string, string> = {}, method = 'GET'): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  const r = await request(url, { method: method as 'GET', headers });
  const body = await r.body.text();
  return { status: r.statusCode, headers: r.headers, body };
}

test('cache options are checked; a bad one is named', () => {
  expect(() => new HttpCache({ lockTimeoutMs: 0 })).toThrow('HttpProxy option "cache.lockTimeoutMs"');
  expect(() => new HttpCache({ key: '$nope' })).toThrow('HttpProxy option "cache.key"');
  expect(() => new HttpCache({ purgeAllow: ['10.0.0.0/33'] })).toThrow('HttpProxy option "cache.purgeAllow[0]"');
  expect(() => new HttpCache({ purgeAllow: ['example.com'] })).toThrow('not an IP address or CIDR range');
  expect(() => new HttpCache({ policy: { defaultTtlSeconds: -1 } })).toThrow('HttpProxy option "cache.policy.defaultTtlSeconds"');
  expect(() => new HttpCache({ bogus: 1 } as never)).toThrow('unknown HttpProxy option "cache.bogus"');
  expect(() => new HttpCache({ statusHeader: 'bad header' })).toThrow('HttpProxy option "cache.statusHeader"');
  expect(() => new HttpCache({ maxObjectBytes: 10, maxSizeBytes: 5 })).toThrow('"cache.maxObjectBytes"');
  const c = new HttpCache({ purgeAllow: ['127.0.0.1', '10.0.0.0/8', '::1'] });
  expect([c.purgeAllowed('127.0.0.1'), c.purgeAllowed('10.1.2.3'), c.purgeAllowed('11.0.0.1'), c.purgeAllowed('::1')]).toEqual([true, true, false, true]);
});

describe.each(DOWNSTREAMS)('HTTP cache (%s)', (kind) => {
  beforeEach(() => useDownstream(kind));

  async function proxyFor(peer: HttpPeer, cache: HttpProxyOptions['cache'] = {}, extra: Partial<ProxyHttp<null>> = {}): Promise<{ url: string; logger: MemoryLogger; proxy: HttpProxy<null> }> {
    const logger = new MemoryLogger();
    const { url, proxy } = await startProxy(res, { ...app(peer), ...extra }, { cache, logger });
    return { url, logger, proxy };
  }

  test('a fresh response is served from the cache: one origin request, MISS then HIT with Age', async () => {
    const o = await origin((_req, rsp, n) => {
      rsp.writeHead(200, { 'cache-control': 'max-age=60', 'content-type': 'text/plain' });
      rsp.end(`body ${n}`);
    });
    const { url, proxy } = await proxyFor(o.peer);
    const first = await get(`${url}/a`);
    expect(first).toMatchObject({ status: 200, body: 'body 1' });
    expect(first.headers['x-cache-status']).toBe('MISS');
    for (let i = 0; i < 5; i++) {
      const hit = await get(`${url}/a`);
      expect(hit).toMatchObject({ status: 200, body: 'body 1' });
      expect(hit.headers['x-cache-status']).toBe('HIT');
      expect(hit.headers.age).toMatch(/^\d+$/);
      expect(hit.headers['content-length']).toBe('6');
    }
    expect(o.count('/a')).toBe(1);
    // Another URL is another key.
    expect((await get(`${url}/b`)).headers['x-cache-status']).toBe('MISS');
    expect(o.count()).toBe(2);
    const stats = proxy.stats().cache;
    expect(stats?.statuses).toMatchObject({ HIT: 5, MISS: 2, BYPASS: 0 });
    expect(stats?.storage).toMatchObject({ entries: 2, evictions: 0 });
    expect(stats?.storage?.sizeBytes).toBeGreaterThan(12);
  });

  test('no-store, private and Set-Cookie-free defaults: what RFC 9111 forbids is not stored', async () => {
    const o = await origin((req, rsp) => {
      const cc: Record<string, string> = { '/no-store': 'no-store', '/private': 'private, max-age=60', '/none': '' };
      rsp.writeHead(200, cc[req.url as string] ? { 'cache-control': cc[req.url as string] as string } : {});
      rsp.end('x');
    });
    const { url } = await proxyFor(o.peer);
    for (const p of ['/no-store', '/private']) {
      await get(`${url}${p}`);
      const again = await get(`${url}${p}`);
      expect(again.headers['x-cache-status']).toBe('MISS');
      expect(o.count(p)).toBe(2);
    }
  });

  test('100 concurrent misses for one URL make one origin request (the cache lock)', async () => {
    const o = await origin((_req, rsp) => {
      setTimeout(() => {
        rsp.writeHead(200, { 'cache-control': 'max-age=60' });
        rsp.end('slow body');
      }, 200);
    });
    const { url } = await proxyFor(o.peer);
    const all = await Promise.all(Array.from({ length: 100 }, () => get(`${url}/slow`)));
    expect(o.count('/slow')).toBe(1);
    for (const r of all) expect(r).toMatchObject({ status: 200, body: 'slow body' });
    expect(all.filter((r) => r.headers['x-cache-status'] === 'MISS')).toHaveLength(1);
  });

  test('after the lock timeout, waiters go to the origin themselves', async () => {
    const o = await origin((_req, rsp) => {
      setTimeout(() => {
        rsp.writeHead(200, { 'cache-control': 'max-age=60' });
        rsp.end('late');
      }, 600);
    });
    const { url } = await proxyFor(o.peer, { lockTimeoutMs: 100 });
    const all = await Promise.all(Array.from({ length: 5 }, () => get(`${url}/late`)));
    for (const r of all) expect(r).toMatchObject({ status: 200, body: 'late' });
    expect(o.count('/late')).toBe(5);
  });

  test('a stale response is revalidated with its validators; a 304 freshens it (REVALIDATED)', async () => {
    const o = await origin((req, rsp) => {
      if (req.headers['if-none-match'] === '"v1"') {
        rsp.writeHead(304, { etag: '"v1"', 'cache-control': 'max-age=60' });
        rsp.end();
        return;
      }
      rsp.writeHead(200, { etag: '"v1"', 'cache-control': 'max-age=0' });
      rsp.end('versioned');
    });
    const { url } = await proxyFor(o.peer);
    expect((await get(`${url}/v`)).headers['x-cache-status']).toBe('MISS');
    const second = await get(`${url}/v`);
    expect(second).toMatchObject({ status: 200, body: 'versioned' });
    expect(second.headers['x-cache-status']).toBe('REVALIDATED');
    expect(o.seen[1]?.['if-none-match']).toBe('"v1"');
    // Freshened for 60 s by the 304.
    expect((await get(`${url}/v`)).headers['x-cache-status']).toBe('HIT');
    expect(o.count('/v')).toBe(2);
  });

  test('a stale response replaced by a full one is EXPIRED and stored anew', async () => {
    const o = await origin((_req, rsp, n) => {
      // Stale at once but with a validator (worth storing); the origin answers the revalidation in full.
      rsp.writeHead(200, { 'cache-control': n === 1 ? 'max-age=0' : 'max-age=60', etag: `"v${n}"` });
      rsp.end(`v${n}`);
    });
    const { url } = await proxyFor(o.peer);
    await get(`${url}/e`);
    const second = await get(`${url}/e`);
    expect(second).toMatchObject({ body: 'v2' });
    expect(second.headers['x-cache-status']).toBe('EXPIRED');
    expect((await get(`${url}/e`)).headers['x-cache-status']).toBe('HIT');
  });

  test("a client's conditional request is answered 304 from the cache", async () => {
    const o = await origin((_req, rsp) => {
      rsp.writeHead(200, { etag: '"abc"', 'cache-control': 'max-age=60' });
      rsp.end('conditional');
    });
    const { url } = await proxyFor(o.peer);
    await get(`${url}/c`);
    const r = await get(`${url}/c`, { 'if-none-match': '"abc"' });
    expect(r.status).toBe(304);
    expect(r.headers.etag).toBe('"abc"');
    expect(o.count('/c')).toBe(1);
    // The first request of a URL with a conditional: the cache fetches the full body, then answers 304.
    const r2 = await get(`${url}/c2`, { 'if-none-match': '"abc"' });
    expect(r2.status).toBe(304);
    expect(o.seen[1]?.['if-none-match']).toBeUndefined();
    expect((await get(`${url}/c2`)).body).toBe('conditional');
  });

  test('HEAD is served from a cached GET; Range from the cached full body (206, 416)', async () => {
    const o = await origin((_req, rsp) => {
      rsp.writeHead(200, { 'cache-control': 'max-age=60', 'content-length': '10' });
      rsp.end('0123456789');
    });
    const { url } = await proxyFor(o.peer);
    await get(`${url}/r`);
    const head = await get(`${url}/r`, {}, 'HEAD');
    expect(head.status).toBe(200);
    expect(head.headers['content-length']).toBe('10');
    expect(head.headers['x-cache-status']).toBe('HIT');
    const part = await get(`${url}/r`, { range: 'bytes=2-5' });
    expect(part).toMatchObject({ status: 206, body: '2345' });
    expect(part.headers['content-range']).toBe('bytes 2-5/10');
    const tail = await get(`${url}/r`, { range: 'bytes=-3' });
    expect(tail).toMatchObject({ status: 206, body: '789' });
    const bad = await get(`${url}/r`, { range: 'bytes=20-' });
    expect(bad.status).toBe(416);
    expect(bad.headers['content-range']).toBe('bytes */10');
    expect(o.count('/r')).toBe(1);
    // A range asked first: the origin is asked for the whole body (no Range), the client gets
    // its part of the fill (its size known from Content-Length; without one, the whole 200).
    const first = await get(`${url}/r2`, { range: 'bytes=0-1' });
    expect(first).toMatchObject({ status: 206, body: '01' });
    expect(o.seen[1]?.range).toBeUndefined();
  });

  test('Vary keeps variants side by side; Vary: * is not stored', async () => {
    const o = await origin((req, rsp) => {
      if (req.url === '/star') {
        rsp.writeHead(200, { 'cache-control': 'max-age=60', vary: '*' });
        rsp.end('star');
        return;
      }
      rsp.writeHead(200, { 'cache-control': 'max-age=60', vary: 'Accept-Language' });
      rsp.end(`lang ${req.headers['accept-language'] ?? 'none'}`);
    });
    const { url } = await proxyFor(o.peer);
    expect((await get(`${url}/v`, { 'accept-language': 'en' })).body).toBe('lang en');
    expect((await get(`${url}/v`, { 'accept-language': 'fr' })).body).toBe('lang fr');
    const en = await get(`${url}/v`, { 'accept-language': 'en' });
    const fr = await get(`${url}/v`, { 'accept-language': 'fr' });
    expect([en.body, en.headers['x-cache-status']]).toEqual(['lang en', 'HIT']);
    expect([fr.body, fr.headers['x-cache-status']]).toEqual(['lang fr', 'HIT']);
    expect(o.count('/v')).toBe(2);
    await get(`${url}/star`);
    await get(`${url}/star`);
    expect(o.count('/star')).toBe(2);
  });

  test('stale-while-revalidate serves stale at once and refreshes once in the background', async () => {
    const o = await origin((_req, rsp, n) => {
      rsp.writeHead(200, { 'cache-control': `max-age=${n === 1 ? 1 : 60}, stale-while-revalidate=60` });
      rsp.end(`gen ${n}`);
    });
    const { url } = await proxyFor(o.peer);
    await get(`${url}/swr`);
    await sleep(2100);
    const stale = await Promise.all(Array.from({ length: 5 }, () => get(`${url}/swr`)));
    for (const r of stale) {
      expect(r.body).toBe('gen 1');
      expect(r.headers['x-cache-status']).toBe('STALE');
    }
    await until(() => o.count('/swr') === 2, 3000, 'background refresh');
    await sleep(100); // the refresh's fill finishing after its head
    const fresh = await get(`${url}/swr`);
    expect([fresh.body, fresh.headers['x-cache-status']]).toEqual(['gen 2', 'HIT']);
    expect(o.count('/swr')).toBe(2);
  });

  test('stale-if-error: a stale response is served when the origin fails or is down', async () => {
    let fail = false;
    const o = await origin((_req, rsp) => {
      if (fail) {
        rsp.writeHead(503);
        rsp.end('down');
        return;
      }
      rsp.writeHead(200, { 'cache-control': 'max-age=0, stale-if-error=60' });
      rsp.end('kept');
    });
    const { url, logger } = await proxyFor(o.peer);
    await get(`${url}/sie`);
    fail = true;
    const r = await get(`${url}/sie`);
    expect([r.status, r.body, r.headers['x-cache-status']]).toEqual([200, 'kept', 'STALE']);
    expect(logger.lines.some((l) => l.msg?.includes('stale-if-error'))).toBe(true);
    // Without stale-if-error the 503 goes through.
    const o2 = await origin((_req, rsp, n) => {
      rsp.writeHead(n === 1 ? 200 : 503, { 'cache-control': 'max-age=0' });
      rsp.end(n === 1 ? 'ok' : 'down');
    });
    const { url: url2 } = await proxyFor(o2.peer);
    await get(`${url2}/x`);
    expect((await get(`${url2}/x`)).status).toBe(503);
  });

  test('stale-if-error when the origin cannot be reached at all', async () => {
    let peer: HttpPeer;
    const o = await origin((_req, rsp) => {
      rsp.writeHead(200, { 'cache-control': 'max-age=0, stale-if-error=60' });
      rsp.end('kept');
    });
    peer = o.peer;
    const down = new HttpPeer(`127.0.0.1:${await res.refusedPort()}`);
    const { url } = await proxyFor(o.peer, {}, { upstreamPeer: () => peer });
    await get(`${url}/down`);
    peer = down;
    const r = await get(`${url}/down`);
    expect([r.status, r.body, r.headers['x-cache-status']]).toEqual([200, 'kept', 'STALE']);
  });

  test('a body larger than maxObjectBytes passes through uncached; a large one streams while it fills', async () => {
    const big = Buffer.alloc(256 * 1024, 'b');
    const o = await origin((req, rsp) => {
      rsp.writeHead(200, { 'cache-control': 'max-age=60', 'content-length': String(big.length) });
      if (req.url === '/big') rsp.end(big);
      else rsp.end(big);
    });
    const { url } = await proxyFor(o.peer, { maxObjectBytes: 64 * 1024 });
    expect((await get(`${url}/big`)).body.length).toBe(big.length);
    const again = await get(`${url}/big`);
    expect(again.body.length).toBe(big.length);
    expect(again.headers['x-cache-status']).toBe('MISS');
    expect(o.count('/big')).toBe(2);
  });

  test('unsafe methods bypass the cache and invalidate the URL', async () => {
    const o = await origin((req, rsp, n) => {
      rsp.writeHead(200, { 'cache-control': 'max-age=60' });
      rsp.end(`${req.method} ${n}`);
    });
    const { url } = await proxyFor(o.peer);
    await get(`${url}/doc`);
    expect((await get(`${url}/doc`)).headers['x-cache-status']).toBe('HIT');
    const post = await get(`${url}/doc`, {}, 'POST');
    expect(post.headers['x-cache-status']).toBe('BYPASS');
    await until(() => true);
    const after = await get(`${url}/doc`);
    expect(after.headers['x-cache-status']).toBe('MISS');
  });

  test('PURGE: 405 without an allowlist, 403 for other clients, 200 then 404 for allowed ones', async () => {
    const o = await origin((_req, rsp) => {
      rsp.writeHead(200, { 'cache-control': 'max-age=60' });
      rsp.end('p');
    });
    const none = await proxyFor(o.peer);
    expect((await get(`${none.url}/p`, {}, 'PURGE')).status).toBe(405);
    const other = await proxyFor(o.peer, { purgeAllow: ['10.0.0.0/8'] });
    expect((await get(`${other.url}/p`, {}, 'PURGE')).status).toBe(403);
    const allowed = await proxyFor(o.peer, { purgeAllow: ['127.0.0.0/8', '::1'] });
    await get(`${allowed.url}/p`);
    expect((await get(`${allowed.url}/p`)).headers['x-cache-status']).toBe('HIT');
    expect((await get(`${allowed.url}/p`, {}, 'PURGE')).status).toBe(200);
    expect((await get(`${allowed.url}/p`, {}, 'PURGE')).status).toBe(404);
    expect((await get(`${allowed.url}/p`)).headers['x-cache-status']).toBe('MISS');
  });
});
