/**
 * RFC 9111 shared-cache rules through the proxy, one origin per rule that counts what it is
 * asked: freshness from `s-maxage`, `max-age`, `Expires` and heuristics, `Age`, `no-store`,
 * `private`, `no-cache`, `must-revalidate`, `proxy-revalidate`, `Authorization`, HEAD fills,
 * and HTTP/2 clients.
 */
import * as http2 from 'node:http2';
import { HttpPeer, type HttpProxyOptions } from '@pingora-ts/proxy';
import { request } from 'undici';
import { Resources, startProxy } from '../resources';

const res = new Resources();
afterEach(() => res.closeAll());

type Head = Record<string, string>;

/** A proxy with a cache in front of an origin answering `head()` (and `status()`), counting requests. */
async function setup(head: (n: number, req: { method: string; headers: Record<string, string | string[] | undefined> }) => Head, cache: HttpProxyOptions['cache'] = {}, status: (n: number) => number = () => 200) {
  let n = 0;
  const methods: string[] = [];
  const { address } = await res.httpServer((req, rsp) => {
    n++;
    methods.push(req.method as string);
    rsp.writeHead(status(n), head(n, { method: req.method as string, headers: req.headers }));
    rsp.end(`body ${n}`);
  });
  const peer = new HttpPeer(address);
  const { url } = await startProxy(res, { newCtx: () => null, upstreamPeer: () => peer }, { cache });
  const get = async (path = '/', headers: Record<string, string> = {}, method = 'GET') => {
    const r = await request(`${url}${path}`, { method: method as 'GET', headers });
    return { status: r.statusCode, headers: r.headers, body: await r.body.text() };
  };
  return { get, count: () => n, methods, url };
}

const httpDate = (offsetS: number): string => new Date(Date.now() + offsetS * 1000).toUTCString();

test('s-maxage wins over max-age for a shared cache', async () => {
  const o = await setup(() => ({ 'cache-control': 'max-age=0, s-maxage=60' }));
  await o.get();
  expect((await o.get()).headers['x-cache-status']).toBe('HIT');
  expect(o.count()).toBe(1);
});

test('Expires in the future makes it fresh; in the past (or invalid) stale', async () => {
  const fresh = await setup(() => ({ expires: httpDate(60), date: httpDate(0) }));
  await fresh.get();
  expect((await fresh.get()).headers['x-cache-status']).toBe('HIT');
  const past = await setup(() => ({ expires: httpDate(-60), date: httpDate(0) }));
  await past.get();
  expect((await past.get()).headers['x-cache-status']).not.toBe('HIT');
  expect(past.count()).toBe(2);
});

test('Age: the upstream Age counts against max-age, and a hit sends its current Age', async () => {
  const o = await setup(() => ({ 'cache-control': 'max-age=60', age: '30' }));
  await o.get();
  const hit = await o.get();
  expect(hit.headers['x-cache-status']).toBe('HIT');
  expect(Number(hit.headers.age)).toBeGreaterThanOrEqual(30);
  const old = await setup(() => ({ 'cache-control': 'max-age=60', age: '90' }));
  await old.get();
  expect((await old.get()).headers['x-cache-status']).not.toBe('HIT');
  expect(old.count()).toBe(2);
});

test('no-store in the response or the request, and private, are not stored', async () => {
  const resp = await setup(() => ({ 'cache-control': 'no-store, max-age=60' }));
  await resp.get();
  await resp.get();
  expect(resp.count()).toBe(2);
  const reqNoStore = await setup(() => ({ 'cache-control': 'max-age=60' }));
  await reqNoStore.get('/', { 'cache-control': 'no-store' });
  expect((await reqNoStore.get()).headers['x-cache-status']).toBe('MISS');
  const priv = await setup(() => ({ 'cache-control': 'private, max-age=60' }));
  await priv.get();
  await priv.get();
  expect(priv.count()).toBe(2);
});

test('no-cache is stored and revalidated on every use (a 304 serves the stored body)', async () => {
  const o = await setup(
    (_n, req): Head => (req.headers['if-none-match'] === '"e"' ? { etag: '"e"' } : { 'cache-control': 'no-cache', etag: '"e"' }),
    {},
    (n) => (n === 1 ? 200 : 304),
  );
  expect((await o.get()).body).toBe('body 1');
  for (let i = 0; i < 3; i++) {
    const r = await o.get();
    expect([r.status, r.body, r.headers['x-cache-status']]).toEqual([200, 'body 1', 'REVALIDATED']);
  }
  expect(o.count()).toBe(4);
});

test('must-revalidate and proxy-revalidate: never served stale, not even when the origin fails', async () => {
  for (const cc of ['max-age=0, must-revalidate, stale-if-error=60', 'max-age=0, proxy-revalidate, stale-if-error=60']) {
    const o = await setup(() => ({ 'cache-control': cc }), {}, (n) => (n === 1 ? 200 : 500));
    await o.get();
    expect((await o.get()).status).toBe(500);
  }
});

test('the client may accept stale (max-stale) unless the response forbids it', async () => {
  const o = await setup(() => ({ 'cache-control': 'max-age=0', etag: '"a"' }));
  await o.get();
  const stale = await o.get('/', { 'cache-control': 'max-stale=60' });
  expect(stale.headers['x-cache-status']).toBe('STALE');
  expect(o.count()).toBe(1);
  // The client's max-age=0 forces a trip to the origin.
  await o.get('/', { 'cache-control': 'max-age=0' });
  expect(o.count()).toBe(2);
});

test('heuristic freshness from Last-Modified for a 200 without explicit expiry; default_ttl for one without', async () => {
  const lm = await setup(() => ({ 'last-modified': httpDate(-10 * 86400), date: httpDate(0) }));
  await lm.get();
  expect((await lm.get()).headers['x-cache-status']).toBe('HIT');
  const none = await setup(() => ({}));
  await none.get();
  expect((await none.get()).headers['x-cache-status']).not.toBe('HIT');
  const ttl = await setup(() => ({}), { policy: { defaultTtlSeconds: 60 } });
  await ttl.get();
  expect((await ttl.get()).headers['x-cache-status']).toBe('HIT');
  // A 302 is not heuristically cacheable: no default TTL for it.
  const redirect = await setup(() => ({ location: '/x' }), { policy: { defaultTtlSeconds: 60 } }, () => 302);
  await redirect.get();
  await redirect.get();
  expect(redirect.count()).toBe(2);
});

test('Authorization: not served from the cache unless the response allows it (public, s-maxage, must-revalidate)', async () => {
  const plain = await setup(() => ({ 'cache-control': 'max-age=60' }));
  await plain.get('/', { authorization: 'Bearer a' });
  expect((await plain.get('/', { authorization: 'Bearer a' })).headers['x-cache-status']).not.toBe('HIT');
  const pub = await setup(() => ({ 'cache-control': 'public, max-age=60' }));
  await pub.get('/', { authorization: 'Bearer a' });
  expect((await pub.get('/', { authorization: 'Bearer b' })).headers['x-cache-status']).toBe('HIT');
  expect(pub.count()).toBe(1);
  // Stored for anonymous requests, an authorized one still goes to the origin.
  const anon = await setup(() => ({ 'cache-control': 'max-age=60' }));
  await anon.get();
  await anon.get('/', { authorization: 'Bearer a' });
  expect(anon.count()).toBe(2);
});

test('a HEAD miss fills from a GET upstream; the next GET is a hit', async () => {
  const o = await setup(() => ({ 'cache-control': 'max-age=60', 'content-length': '6' }));
  const head = await o.get('/h', {}, 'HEAD');
  expect([head.status, head.body, head.headers['content-length']]).toEqual([200, '', '6']);
  expect(o.methods).toEqual(['GET']);
  const get = await o.get('/h');
  expect([get.body, get.headers['x-cache-status']]).toEqual(['body 1', 'HIT']);
});

test('an HTTP/2 client is served from the cache too', async () => {
  const o = await setup(() => ({ 'cache-control': 'max-age=60' }));
  const client = http2.connect(o.url);
  res.defer(() => client.close());
  const ask = (): Promise<{ status: string; body: string }> =>
    new Promise((resolve, reject) => {
      const s = client.request({ ':path': '/h2' });
      let body = '';
      let status = '';
      s.on('response', (h) => (status = String(h['x-cache-status'])));
      s.on('data', (c: Buffer) => (body += c.toString()));
      s.on('end', () => resolve({ status, body }));
      s.on('error', reject);
    });
  expect(await ask()).toEqual({ status: 'MISS', body: 'body 1' });
  expect(await ask()).toEqual({ status: 'HIT', body: 'body 1' });
  expect(o.count()).toBe(1);
});
