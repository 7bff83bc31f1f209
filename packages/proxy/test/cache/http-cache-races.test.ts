/**
 * The HTTP cache when things happen at awkward moments: a client leaving while the cache
 * decides, a background refresh that a hook answers, an outage seen by many waiters, a
 * revalidation many requests wait for, a fill nobody needs any more, a store failing mid-fill,
 * and a 304 naming another representation.
 */
import * as http from 'node:http';
import { MemoryHttpStorage, type BodyWriter, type CacheKey, type CacheMeta, type PutOptions } from '@pingora-ts/cache';
import { HttpPeer, type HttpProxyOptions, type ProxyHttp } from '@pingora-ts/proxy';
import { request } from 'undici';
import { Resources, sleep, startProxy, until } from '../resources';

const res = new Resources();
afterEach(() => res.closeAll());

async function proxyFor(address: string, cache: HttpProxyOptions['cache'] = {}, extra: Partial<ProxyHttp<null>> = {}) {
  const peer = new HttpPeer(address);
  let logged = 0;
  const { url, proxy } = await startProxy(res, { newCtx: () => null, upstreamPeer: () => peer, logging: () => void logged++, ...extra }, { cache });
  return { url, proxy, logged: () => logged };
}

async function get(url: string, headers: Record<string, string> = {}, method = 'GET') {
  const r = await request(url, { method: method as 'GET', headers });
  return { status: r.statusCode, headers: r.headers, body: await r.body.text() };
}

/** A MemoryHttpStorage whose `put` answers late (a remote store). */
class SlowPutStorage extends MemoryHttpStorage {
  override async put(key: CacheKey, meta: CacheMeta, expected?: number | null, options?: PutOptions): Promise<BodyWriter | null> {
    await sleep(200);
    return super.put(key, meta, expected ?? null, options);
  }
}

test('a client leaving while the cache decides: the request still ends (logging), nothing is left filling, the next one is served', async () => {
  const { address } = await res.httpServer((_req, rsp) => {
    rsp.writeHead(200, { 'cache-control': 'max-age=60', 'content-length': '2' });
    rsp.end('ok');
  });
  const { url, proxy, logged } = await proxyFor(address, { storage: new SlowPutStorage() });
  await new Promise<void>((resolve) => {
    const req = http.get(`${url}/race`, { agent: false });
    req.on('error', () => resolve());
    setTimeout(() => {
      req.destroy();
      resolve();
    }, 80);
  });
  await until(() => logged() === 1 && proxy.stats().activeRequests === 0, 3000, 'the request to end');
  const next = await get(`${url}/race`);
  expect([next.status, next.body]).toEqual([200, 'ok']);
  expect((await get(`${url}/race`)).headers['x-cache-status']).toBe('HIT');
});

test('a background refresh answered by requestFilter releases its lock at once', async () => {
  let n = 0;
  const { address } = await res.httpServer((_req, rsp) => {
    n++;
    rsp.writeHead(200, { 'cache-control': `max-age=${n === 1 ? 1 : 60}, stale-while-revalidate=60`, etag: `"${n}"` });
    rsp.end(`gen ${n}`);
  });
  let refuseBackground = true;
  const { url, proxy } = await proxyFor(
    address,
    { lockTimeoutMs: 20_000 },
    {
      requestFilter: (s) => {
        if (!refuseBackground || s.cache?.background !== true) return false;
        s.respond(429, {}, 'slow down');
        return true;
      },
    },
  );
  await get(`${url}/r`);
  await sleep(2100);
  expect((await get(`${url}/r`)).headers['x-cache-status']).toBe('STALE');
  await until(() => proxy.stats().cache?.backgroundRefreshes === 1, 3000, 'the refused refresh');
  refuseBackground = false;
  // Without the release, this refresh would wait for the 20 s lock timeout.
  expect((await get(`${url}/r`)).body).toBe('gen 1');
  await until(() => n === 2, 3000, 'the second refresh');
});

test('during an outage, every waiter gets the stale response under stale-if-error, not a 5xx', async () => {
  let fail = false;
  let asked = 0;
  const { address } = await res.httpServer((_req, rsp) => {
    asked++;
    if (fail) {
      setTimeout(() => {
        rsp.writeHead(503);
        rsp.end('down');
      }, 100);
      return;
    }
    rsp.writeHead(200, { 'cache-control': 'max-age=0, stale-if-error=600', etag: '"s"' });
    rsp.end('kept');
  });
  const { url } = await proxyFor(address);
  await get(`${url}/o`);
  fail = true;
  const all = await Promise.all(Array.from({ length: 6 }, () => get(`${url}/o`)));
  for (const r of all) expect([r.status, r.body, r.headers['x-cache-status']]).toEqual([200, 'kept', 'STALE']);
  expect(asked).toBe(2);
});

test('concurrent requests for a no-cache entry share one revalidation', async () => {
  let asked = 0;
  const { address } = await res.httpServer((req, rsp) => {
    asked++;
    setTimeout(() => {
      if (req.headers['if-none-match'] === '"n"') {
        rsp.writeHead(304, { etag: '"n"', 'cache-control': 'no-cache' });
        rsp.end();
        return;
      }
      rsp.writeHead(200, { 'cache-control': 'no-cache', etag: '"n"' });
      rsp.end('validated');
    }, 150);
  });
  const { url } = await proxyFor(address);
  await get(`${url}/n`);
  const all = await Promise.all(Array.from({ length: 5 }, () => get(`${url}/n`)));
  for (const r of all) expect(r.body).toBe('validated');
  expect(all.map((r) => r.headers['x-cache-status']).sort()).toEqual(['HIT', 'HIT', 'HIT', 'HIT', 'REVALIDATED']);
  expect(asked).toBe(2);
});

test('a fill too large to store stops once its client left; a HEAD for it does not read the body', async () => {
  let sentBytes = 0;
  let closed = 0;
  const piece = Buffer.alloc(64 * 1024, 'h');
  const { address } = await res.httpServer((req, rsp) => {
    rsp.writeHead(200, { 'cache-control': 'max-age=60' });
    rsp.on('close', () => closed++);
    const pump = (): void => {
      while (sentBytes < 256 * 1024 * 1024 && !rsp.destroyed) {
        sentBytes += piece.length;
        if (!rsp.write(piece)) return void rsp.once('drain', pump);
      }
      rsp.end();
    };
    if (req.method === 'GET') pump();
  });
  const { url } = await proxyFor(address, { maxObjectBytes: 1024 * 1024 });
  await new Promise<void>((resolve) => {
    let got = 0;
    const req = http.get(`${url}/huge`, { agent: false }, (rsp) => {
      rsp.on('data', (c: Buffer) => {
        got += c.length;
        if (got > 2 * 1024 * 1024) {
          req.destroy();
          resolve();
        }
      });
    });
    req.on('error', () => resolve());
  });
  await until(() => closed === 1, 5000, 'the origin connection to be dropped');
  expect(sentBytes).toBeLessThan(64 * 1024 * 1024);
  sentBytes = 0;
  const head = await get(`${url}/huge2`, {}, 'HEAD');
  expect(head.status).toBe(200);
  await until(() => closed === 2, 5000, 'the HEAD fill to be dropped');
  expect(sentBytes).toBeLessThan(64 * 1024 * 1024);
});

/** A MemoryHttpStorage whose next fill fails after its first write (a store that hiccups). */
class FailingWriteStorage extends MemoryHttpStorage {
  failNext = true;
  override async put(key: CacheKey, meta: CacheMeta, expected?: number | null, options?: PutOptions): Promise<BodyWriter | null> {
    const w = await super.put(key, meta, expected ?? null, options);
    if (w === null || !this.failNext) return w;
    this.failNext = false;
    let writes = 0;
    return { ...w, write: (c: Buffer) => (++writes > 1 ? Promise.reject(new Error('disk full')) : w.write(c)), finish: () => w.finish(), abort: () => w.abort() };
  }
}

test('a store failing mid-fill ends that fill like an origin failure: its readers dropped, the upstream connection closed, nothing stored', async () => {
  const piece = Buffer.alloc(16 * 1024, 'w');
  const { address } = await res.httpServer((_req, rsp) => {
    rsp.writeHead(200, { 'cache-control': 'max-age=60', 'content-length': String(piece.length * 8) });
    for (let i = 0; i < 8; i++) rsp.write(piece);
    rsp.end();
  });
  const { url, proxy } = await proxyFor(address, { storage: new FailingWriteStorage() });
  // The client reads the fill, which fails: its connection is dropped mid-body.
  const r = await request(`${url}/w`, { reset: true }).catch((e: Error) => e);
  expect(r instanceof Error ? 'failed' : await r.body.text().then(() => 'complete', () => 'failed')).toBe('failed');
  await until(() => proxy.stats().pool.activeConnections === 0 && proxy.stats().activeRequests === 0, 3000, 'the connection to go');
  const again = await get(`${url}/w`);
  expect(again.headers['x-cache-status']).toBe('MISS');
});

test('a 304 naming another representation: the stored one is dropped and the request retried in full', async () => {
  let n = 0;
  const { address } = await res.httpServer((req, rsp) => {
    n++;
    if (req.headers['if-none-match'] !== undefined) {
      rsp.writeHead(304, { etag: '"other"' });
      rsp.end();
      return;
    }
    rsp.writeHead(200, { 'cache-control': 'max-age=0', etag: `"v${n}"` });
    rsp.end(`full ${n}`);
  });
  const { url } = await proxyFor(address);
  await get(`${url}/m`);
  const r = await get(`${url}/m`);
  expect([r.status, r.body]).toEqual([200, 'full 3']);
});
