import type * as http from 'node:http';
import type * as net from 'node:net';
import { ConnectionPool, peerKey, type PeerLike } from '@pingora-ts/pool';
import { ProxyError } from '@pingora-ts/core';
import { Resources, sleep, until } from '../../../test-support/resources';

const res = new Resources();
afterEach(() => res.closeAll());

const peer = (address: string, extra: Partial<PeerLike> = {}): PeerLike => ({ address, tls: false, sni: '', ...extra });

/** An upstream that counts the TCP connections it accepted. */
async function countingUpstream(handler: http.RequestListener = (_req, r) => r.end('ok')) {
  const up = await res.httpServer(handler);
  const seen = { connections: 0, open: 0, maxOpen: 0 };
  up.server.on('connection', (s: net.Socket) => {
    seen.connections++;
    seen.open++;
    seen.maxOpen = Math.max(seen.maxOpen, seen.open);
    s.on('close', () => seen.open--);
  });
  return { ...up, seen };
}

function newPool(opts: ConstructorParameters<typeof ConnectionPool>[0] = {}): ConnectionPool {
  const pool = new ConnectionPool(opts);
  res.defer(() => pool.destroy());
  return pool;
}

test('N sequential requests: 1 new connection, N-1 reused', async () => {
  const up = await countingUpstream((req, r) => r.end(`hello ${req.url}`));
  const pool = newPool();
  const N = 20;
  for (let i = 0; i < N; i++) {
    const r = await pool.request(peer(up.address), { path: `/${i}` });
    expect(r.status).toBe(200);
    expect(r.body.toString()).toBe(`hello /${i}`);
    expect(r.reused).toBe(i > 0);
  }
  expect(pool.newConnections).toBe(1);
  expect(pool.reusedConnections).toBe(N - 1);
  expect(pool.stats()).toMatchObject({ newConnections: 1, reusedConnections: N - 1, idleConnections: 1, activeConnections: 0, peers: 1 });
  expect(up.seen.connections).toBe(1);
});

test('idle timeout closes idle connections; the next request opens a new one', async () => {
  const up = await countingUpstream();
  const pool = newPool({ idleTimeoutMs: 100 });
  await pool.request(peer(up.address));
  expect(pool.stats().idleConnections).toBe(1);
  await until(() => up.seen.open === 0, 2000, 'upstream to see the idle connection close');
  expect(pool.stats().idleConnections).toBe(0);
  await pool.request(peer(up.address));
  expect(pool.newConnections).toBe(2);
  expect(pool.reusedConnections).toBe(0);
});

test('per-peer idleTimeoutMs overrides the pool default', async () => {
  const up = await countingUpstream();
  const pool = newPool({ idleTimeoutMs: 60_000 });
  await pool.request(peer(up.address, { idleTimeoutMs: 50 }));
  await until(() => up.seen.open === 0, 2000, 'idle connection to close');
});

test('size bounds only idle connections: more concurrent requests than size all run at once', async () => {
  // The upstream answers nobody until all 8 requests arrived: a pool that made callers wait would stall.
  const held: http.ServerResponse[] = [];
  const up = await countingUpstream((_req, r) => {
    held.push(r);
    if (held.length === 8) for (const h of held.splice(0)) h.end('ok');
  });
  const pool = newPool({ size: 2, connectTimeoutMs: 2000, idleTimeoutMs: 2000 });
  const results = await Promise.all(Array.from({ length: 8 }, () => pool.request(peer(up.address))));
  expect(results.every((r) => r.status === 200)).toBe(true);
  expect(up.seen.maxOpen).toBe(8);
  expect(pool.newConnections).toBe(8);
  // Released beyond `size`, the extra connections are closed by the sweep once idle through a tick.
  await until(() => pool.stats().idleConnections === 2, 3000, 'the pool to keep 2 idle connections');
  expect(pool.stats()).toMatchObject({ idleConnections: 2, activeConnections: 0, peers: 1 });
  await until(() => up.seen.open === 2, 2000, 'upstream to see the 6 extra connections close');
});

test('released beyond size, the least recently used idle connection is closed; reuse is newest first', async () => {
  const up = await countingUpstream();
  const pool = newPool({ size: 2, idleTimeoutMs: 2000 });
  const p = peer(up.address);
  const conns = await Promise.all([pool.acquire(p), pool.acquire(p), pool.acquire(p), pool.acquire(p)]);
  expect(pool.stats()).toMatchObject({ newConnections: 4, activeConnections: 4 });
  for (const c of conns) pool.release(c); // released in order: conns[0] is the least recently used
  await until(() => conns[0]!.closed && conns[1]!.closed, 3000, 'the two oldest idle connections to close');
  expect(pool.stats().idleConnections).toBe(2);
  expect(conns[2]!.closed || conns[3]!.closed).toBe(false);
  expect(pool.acquireIdle(p)).toBe(conns[3]);
  expect(pool.acquireIdle(p)).toBe(conns[2]);
  await until(() => up.seen.open === 2, 2000, 'upstream to see 2 connections left');
});

test('a burst reuses the idle connections beyond size before the sweep trims them: no reconnects under load', async () => {
  const up = await countingUpstream();
  const pool = newPool({ size: 2, idleTimeoutMs: 2000 });
  const p = peer(up.address);
  const first = await Promise.all(Array.from({ length: 6 }, () => pool.acquire(p)));
  for (const c of first) pool.release(c);
  // The next burst comes before a sweep tick: every connection is reused, none opened.
  const again = await Promise.all(Array.from({ length: 6 }, () => pool.acquire(p)));
  expect(new Set(again)).toEqual(new Set(first));
  expect(pool.stats()).toMatchObject({ newConnections: 6, reusedConnections: 6 });
  for (const c of again) pool.release(c);
  await until(() => pool.stats().idleConnections === 2, 3000, 'the idle connections beyond size to close');
  expect(up.seen.maxOpen).toBe(6);
});

test('maxConnections caps idle + in use per peer; waiters get freed connections', async () => {
  const up = await countingUpstream((_req, r) => setTimeout(() => r.end('slow'), 40));
  const pool = newPool({ maxConnections: 2 });
  const results = await Promise.all(Array.from({ length: 8 }, () => pool.request(peer(up.address))));
  expect(results.every((r) => r.status === 200)).toBe(true);
  expect(up.seen.maxOpen).toBeLessThanOrEqual(2);
  expect(pool.newConnections).toBe(2);
  expect(pool.reusedConnections).toBe(6);
  expect(pool.stats().idleConnections).toBe(2);
});

test('waiters are served first come, first served; a closed connection frees a slot for the next', async () => {
  const up = await countingUpstream();
  const pool = newPool({ connectTimeoutMs: 2000 });
  const p = peer(up.address, { maxConnections: 2 }); // the peer's own cap; the pool has none
  const [a, b] = await Promise.all([pool.acquire(p), pool.acquire(p)]);
  const order: string[] = [];
  const first = pool.acquire(p).then((c) => (order.push('first'), c));
  const second = pool.acquire(p).then((c) => (order.push('second'), c));
  await sleep(20);
  expect(order).toEqual([]);
  pool.release(a!); // reusable: handed straight to the first waiter
  expect(await first).toBe(a);
  b!.destroy(); // closed: the second waiter gets a new connection in its place
  const c = await second;
  expect(order).toEqual(['first', 'second']);
  expect(c.reused).toBe(false);
  expect(pool.newConnections).toBe(3);
  expect(pool.stats()).toMatchObject({ activeConnections: 2, idleConnections: 0 });
  pool.release(a!);
  pool.release(c);
});

test('a waiter gives up after the connect timeout with ConnectionLimitReached (503, not retried)', async () => {
  const up = await countingUpstream((_req, r) => setTimeout(() => r.end('slow'), 400));
  const pool = newPool({ maxConnections: 1, connectTimeoutMs: 100 });
  const first = pool.request(peer(up.address));
  const started = Date.now();
  const err = (await pool.request(peer(up.address)).catch((e: unknown) => e)) as ProxyError;
  expect(err).toBeInstanceOf(ProxyError);
  expect(err.kind).toBe('ConnectionLimitReached');
  expect(err.status).toBe(503);
  expect(err.source).toBe('upstream');
  expect(err.canRetry(false)).toBe(false);
  expect(Date.now() - started).toBeGreaterThanOrEqual(100);
  expect((await first).status).toBe(200);
  expect(up.seen.connections).toBe(1);
});

test('per-peer state is dropped once a peer has no connections and no waiters', async () => {
  const up = await countingUpstream();
  const pool = newPool({ idleTimeoutMs: 300 });
  // Peers that come and go (dynamic discovery): 40 keys, each used once.
  await Promise.all(Array.from({ length: 40 }, (_, i) => pool.request(peer(up.address, { groupKey: `backend-${i}` }))));
  expect(pool.stats().peers).toBe(40);
  await until(() => pool.stats().peers === 0, 3000, 'idle connections to time out and their peers to be dropped');
  expect(pool.stats()).toMatchObject({ idleConnections: 0, activeConnections: 0 });

  // A connection that is not kept, a failed connect, and a waiter that gave up leave nothing either.
  const closing = await countingUpstream((_req, r) => {
    r.setHeader('connection', 'close');
    r.end('bye');
  });
  await pool.request(peer(closing.address));
  const port = await res.refusedPort();
  await pool.acquire(peer(`127.0.0.1:${port}`)).catch(() => undefined);
  const capped = peer(up.address, { groupKey: 'capped', maxConnections: 1, connectionTimeoutMs: 50 });
  const held = await pool.acquire(capped);
  await expect(pool.acquire(capped)).rejects.toMatchObject({ kind: 'ConnectionLimitReached' });
  expect(pool.stats().peers).toBe(1);
  held.destroy();
  await until(() => pool.stats().peers === 0, 2000, 'the capped peer to be dropped');
});

test('distinct peers get distinct connections', async () => {
  const a = await countingUpstream((_req, r) => r.end('a'));
  const b = await countingUpstream((_req, r) => r.end('b'));
  const pool = newPool();
  for (let i = 0; i < 3; i++) {
    expect((await pool.request(peer(a.address))).body.toString()).toBe('a');
    expect((await pool.request(peer(b.address))).body.toString()).toBe('b');
    // same address, other group: its own connections
    expect((await pool.request(peer(a.address, { groupKey: 'tenant-2' }))).body.toString()).toBe('a');
  }
  expect(pool.newConnections).toBe(3);
  expect(pool.reusedConnections).toBe(6);
  expect(pool.stats().peers).toBe(3);
  expect(a.seen.connections).toBe(2);
  expect(b.seen.connections).toBe(1);
});

test('peerKey separates everything that makes peers differ', () => {
  const base = peer('10.0.0.1:443', { tls: true, sni: 'a.example' });
  const keys = new Set([
    peerKey(base),
    peerKey({ ...base, address: '10.0.0.2:443' }),
    peerKey({ ...base, tls: false }),
    peerKey({ ...base, sni: 'b.example' }),
    peerKey({ ...base, verifyCert: false }),
    peerKey({ ...base, verifyHostname: false }),
    peerKey({ ...base, alternativeCn: 'alt.example' }),
    peerKey({ ...base, caKey: 'private-ca' }),
    peerKey({ ...base, groupKey: 'g' }),
    peerKey({ ...base, alpn: 'h2' }),
    peerKey({ ...base, alpn: 'h2h1' }),
  ]);
  expect(keys.size).toBe(11);
  expect(peerKey({ ...base, alpn: 'h1' })).toBe(peerKey(base));
  // h2h1 without TLS is h1; h2 without TLS (h2c) is its own key
  expect(peerKey(peer('10.0.0.1:80', { alpn: 'h2h1' }))).toBe(peerKey(peer('10.0.0.1:80')));
  expect(peerKey(peer('10.0.0.1:80', { alpn: 'h2' }))).not.toBe(peerKey(peer('10.0.0.1:80')));
  expect(peerKey({ ...base })).toBe(peerKey(base));
  // SNI and verify flags do not matter without TLS
  expect(peerKey(peer('10.0.0.1:80', { sni: 'x' }))).toBe(peerKey(peer('10.0.0.1:80')));
});

test('a connection the upstream closes while idle is dropped, not reused', async () => {
  const up = await countingUpstream();
  const pool = newPool();
  await pool.request(peer(up.address));
  up.server.closeIdleConnections();
  await until(() => pool.stats().idleConnections === 0, 2000, 'pool to drop the closed connection');
  const r = await pool.request(peer(up.address));
  expect(r.reused).toBe(false);
  expect(pool.newConnections).toBe(2);
});

test('Connection: close responses are not kept', async () => {
  const up = await countingUpstream((_req, r) => {
    r.setHeader('connection', 'close');
    r.end('bye');
  });
  const pool = newPool();
  await pool.request(peer(up.address));
  await pool.request(peer(up.address));
  expect(pool.newConnections).toBe(2);
  expect(pool.reusedConnections).toBe(0);
});

test('connect refused is a retryable ConnectRefused error', async () => {
  const port = await res.refusedPort();
  const pool = newPool();
  const err = (await pool.acquire(peer(`127.0.0.1:${port}`)).catch((e: unknown) => e)) as ProxyError;
  expect(err.kind).toBe('ConnectRefused');
  expect(err.source).toBe('upstream');
  expect(err.canRetry(false)).toBe(true);
  expect(pool.stats().activeConnections).toBe(0);
});

test('close() and destroy() are idempotent and awaitable; acquire after close rejects', async () => {
  const up = await countingUpstream();
  const pool = new ConnectionPool();
  await pool.request(peer(up.address));
  const p1 = pool.close();
  const p2 = pool.close();
  expect(p1).toBe(p2);
  await p1;
  await pool.destroy();
  await until(() => up.seen.open === 0, 2000, 'upstream to see the close');
  await expect(pool.acquire(peer(up.address))).rejects.toThrow('closed');
});

test('close() waits for busy connections to be released', async () => {
  const up = await countingUpstream((_req, r) => setTimeout(() => r.end('late'), 100));
  const pool = new ConnectionPool();
  const inFlight = pool.request(peer(up.address));
  await sleep(20);
  let closed = false;
  const closing = pool.close().then(() => (closed = true));
  await sleep(20);
  expect(closed).toBe(false);
  expect((await inFlight).body.toString()).toBe('late');
  await closing;
  expect(closed).toBe(true);
});

test('rejects unknown and invalid options', () => {
  expect(() => new ConnectionPool({ sise: 3 } as never)).toThrow('unknown ConnectionPool option "sise"');
  expect(() => new ConnectionPool({ size: 0 })).toThrow('positive integer');
  expect(() => new ConnectionPool({ maxConnections: 1.5 })).toThrow('"maxConnections" must be a positive integer');
});

test('a peer with an invalid maxConnections is rejected', async () => {
  const pool = newPool();
  await expect(pool.acquire(peer('127.0.0.1:1', { maxConnections: 0 }))).rejects.toThrow('maxConnections must be a positive integer');
  expect(pool.stats().peers).toBe(0);
});

test('acquireIdle hands out an idle connection synchronously, or null', async () => {
  const up = await countingUpstream();
  const pool = newPool();
  const p = peer(up.address);
  expect(pool.acquireIdle(p)).toBeNull();
  await pool.request(p);
  const conn = pool.acquireIdle(p);
  expect(conn?.reused).toBe(true);
  expect(pool.stats()).toMatchObject({ idleConnections: 0, activeConnections: 1, reusedConnections: 1 });
  expect(pool.acquireIdle(p)).toBeNull();
  pool.release(conn as NonNullable<typeof conn>);
  expect(pool.stats().idleConnections).toBe(1);
  await pool.close();
  expect(pool.acquireIdle(p)).toBeNull();
});
