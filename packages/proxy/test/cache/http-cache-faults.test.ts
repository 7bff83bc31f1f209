/**
 * The HTTP cache under faults, against real origins: streaming fills that clients join or
 * leave, an origin failing mid-body, a broken store, a full store, malformed headers, and a
 * large response through a small object limit.
 */
import * as http from 'node:http';
import type { CacheHit, CacheKey, CacheMeta, HttpCacheStorage, PrimaryEntry, BodyWriter } from '@pingora-ts/cache';
import { HttpPeer, type HttpProxyOptions } from '@pingora-ts/proxy';
import { request } from 'undici';
import { MemoryLogger, Resources, startProxy, until } from '../resources';

const res = new Resources();
afterEach(() => res.closeAll());

async function proxyFor(address: string, cache: HttpProxyOptions['cache'] = {}): Promise<{ url: string; logger: MemoryLogger }> {
  const logger = new MemoryLogger();
  const peer = new HttpPeer(address);
  const { url } = await startProxy(res, { newCtx: () => null, upstreamPeer: () => peer }, { cache, logger });
  return { url, logger };
}

/** A GET with node:http, resolving with what arrived and whether it ended cleanly. */
function fetchRaw(url: string, onFirstChunk?: (req: http.ClientRequest) => void): Promise<{ status: number; body: Buffer; complete: boolean; cacheStatus: string | undefined }> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const req = http.get(url, { agent: false }, (rsp) => {
      let first = true;
      rsp.on('data', (c: Buffer) => {
        chunks.push(c);
        if (first) onFirstChunk?.(req);
        first = false;
      });
      const done = (complete: boolean): void => resolve({ status: rsp.statusCode ?? 0, body: Buffer.concat(chunks), complete, cacheStatus: rsp.headers['x-cache-status'] as string | undefined });
      rsp.on('end', () => done(rsp.complete));
      rsp.on('error', () => done(false));
      rsp.on('aborted', () => done(false));
    });
    req.on('error', () => resolve({ status: 0, body: Buffer.concat(chunks), complete: false, cacheStatus: undefined }));
  });
}

test('a fill streams: the first client gets bytes before the origin finished, and one who leaves mid-fill does not stop it for the others', async () => {
  let requests = 0;
  let finish: () => void = () => {};
  const finished = new Promise<void>((r) => (finish = r));
  const { address } = await res.httpServer((_req, rsp) => {
    requests++;
    rsp.writeHead(200, { 'cache-control': 'max-age=60', 'content-length': String(3 * 1024) });
    rsp.write(Buffer.alloc(1024, 'a'));
    void finished.then(() => rsp.end(Buffer.alloc(2048, 'b')));
  });
  const { url } = await proxyFor(address);
  // A: leaves as soon as it has the first bytes (the origin is still sending: streaming).
  const leaving = fetchRaw(`${url}/s`, (req) => req.destroy());
  // B joins the fill meanwhile; the origin finishes only after A left and B joined.
  await until(() => requests === 1, 3000, 'the fill started');
  const leftEarly = await leaving;
  expect(leftEarly.complete).toBe(false);
  const joined = fetchRaw(`${url}/s`);
  setTimeout(finish, 50);
  const b = await joined;
  expect([b.status, b.complete, b.body.length, b.cacheStatus]).toEqual([200, true, 3072, 'HIT']);
  const c = await fetchRaw(`${url}/s`);
  expect([c.body.length, c.cacheStatus]).toEqual([3072, 'HIT']);
  expect(requests).toBe(1);
});

test('an origin failing mid-body: joined clients get a broken response, never a truncated one that looks whole, and nothing is stored', async () => {
  let requests = 0;
  const { address } = await res.httpServer((_req, rsp) => {
    requests++;
    rsp.writeHead(200, { 'cache-control': 'max-age=60', 'content-length': '4096' });
    rsp.write(Buffer.alloc(1024, 'a'));
    setTimeout(() => rsp.destroy(), 100);
  });
  const { url, logger } = await proxyFor(address);
  const [a, b] = await Promise.all([fetchRaw(`${url}/f`), fetchRaw(`${url}/f`)]);
  for (const r of [a, b]) expect(r.complete).toBe(false);
  expect(requests).toBe(1);
  await until(() => logger.lines.some((l) => l.msg === 'cache fill aborted'), 3000, 'the log line');
  const again = await fetchRaw(`${url}/f`);
  expect(again.cacheStatus).toBe('MISS');
  expect(requests).toBe(2);
});

/** A store that fails every call. */
class BrokenStorage implements HttpCacheStorage {
  calls = 0;
  private fail<T>(): Promise<T> {
    this.calls++;
    return Promise.reject(new Error('store is down'));
  }
  lookup(_primary: string): Promise<PrimaryEntry | null> {
    return this.fail();
  }
  get(_key: CacheKey): Promise<CacheHit | null> {
    return this.fail();
  }
  put(_key: CacheKey, _meta: CacheMeta): Promise<BodyWriter | null> {
    return this.fail();
  }
  updateMeta(): Promise<boolean> {
    return this.fail();
  }
  purge(): Promise<boolean> {
    return this.fail();
  }
}

test('a broken store is a MISS with a log line: every request is still answered from the origin', async () => {
  const { address } = await res.httpServer((_req, rsp) => {
    rsp.writeHead(200, { 'cache-control': 'max-age=60' });
    rsp.end('from origin');
  });
  const storage = new BrokenStorage();
  const { url, logger } = await proxyFor(address, { storage });
  for (let i = 0; i < 3; i++) {
    const r = await request(`${url}/x`);
    expect([r.statusCode, await r.body.text(), r.headers['x-cache-status']]).toEqual([200, 'from origin', 'MISS']);
  }
  expect(storage.calls).toBeGreaterThanOrEqual(6);
  expect(logger.lines.filter((l) => l.level === 'error' && String(l.msg).includes('cache storage')).length).toBeGreaterThanOrEqual(3);
});

test('a full store evicts the least recently used and never fails a request', async () => {
  const body = Buffer.alloc(10 * 1024, 'z');
  const { address } = await res.httpServer((_req, rsp) => {
    rsp.writeHead(200, { 'cache-control': 'max-age=60', 'content-length': String(body.length) });
    rsp.end(body);
  });
  const { url } = await proxyFor(address, { maxSizeBytes: 64 * 1024, maxObjectBytes: 16 * 1024 });
  for (let i = 0; i < 20; i++) {
    const r = await request(`${url}/o${i}`);
    expect([r.statusCode, (await r.body.arrayBuffer()).byteLength]).toEqual([200, body.length]);
  }
  const newest = await request(`${url}/o19`);
  await newest.body.dump();
  expect(newest.headers['x-cache-status']).toBe('HIT');
  const oldest = await request(`${url}/o0`);
  await oldest.body.dump();
  expect(oldest.headers['x-cache-status']).toBe('MISS');
});

test('malformed or conflicting cache headers never throw: stale or not stored, as RFC 9111 says', async () => {
  const heads: Record<string, Record<string, string>> = {
    '/bad-max-age': { 'cache-control': 'max-age=abc' },
    '/two-max-age': { 'cache-control': 'max-age=60, max-age=120' },
    '/bad-expires': { expires: '0' },
    '/garbage': { 'cache-control': '=,,;;"unterminated', age: '-5', date: 'yesterday' },
  };
  let requests = 0;
  const { address } = await res.httpServer((req, rsp) => {
    requests++;
    rsp.writeHead(200, heads[req.url as string] ?? {});
    rsp.end('ok');
  });
  const { url } = await proxyFor(address);
  for (const path of Object.keys(heads)) {
    for (let i = 0; i < 2; i++) {
      const r = await request(`${url}${path}`);
      expect([r.statusCode, await r.body.text()]).toEqual([200, 'ok']);
      expect(r.headers['x-cache-status']).not.toBe('HIT');
    }
  }
  expect(requests).toBe(8);
});

test('a response far larger than maxObjectBytes, sent chunked, streams through whole and is not stored', async () => {
  const total = 16 * 1024 * 1024;
  const piece = Buffer.alloc(64 * 1024, 'q');
  const { address } = await res.httpServer((_req, rsp) => {
    rsp.writeHead(200, { 'cache-control': 'max-age=60' });
    let sent = 0;
    const pump = (): void => {
      while (sent < total) {
        sent += piece.length;
        if (!rsp.write(piece)) return void rsp.once('drain', pump);
      }
      rsp.end();
    };
    pump();
  });
  const { url } = await proxyFor(address, { maxObjectBytes: 1024 * 1024 });
  let received = 0;
  const r = await request(`${url}/huge`);
  for await (const c of r.body) received += (c as Buffer).length;
  expect(received).toBe(total);
  const again = await request(`${url}/huge`);
  await again.body.dump();
  expect(again.headers['x-cache-status']).toBe('MISS');
});
