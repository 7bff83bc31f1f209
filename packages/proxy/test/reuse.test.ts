import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import type * as net from 'node:net';
import { ConnectionPool } from '@pingora-ts/pool';
import { CHANNELS, HttpPeer, type ProxyRequestMessage } from '@pingora-ts/proxy';
import { DOWNSTREAMS, Resources, client, startProxy, until, useDownstream } from './resources';

const res = new Resources();
afterEach(() => res.closeAll());

describe.each(DOWNSTREAMS)('%s downstream', (downstream) => {
  beforeEach(() => useDownstream(downstream));

  test('200 requests on one downstream keep-alive connection use at most 1 new upstream connection', async () => {
    let upstreamConnections = 0;
    const up = await res.httpServer((req, r) => r.end(`r${req.url}`));
    up.server.on('connection', () => upstreamConnections++);
    const peer = new HttpPeer(up.address);
    const { url, proxy } = await startProxy(res, { newCtx: () => null, upstreamPeer: () => peer });
    let downstreamConnections = 0;
    const c = client(res, url, { pipelining: 1 });
    c.on('connect', () => downstreamConnections++);
    for (let i = 0; i < 200; i++) {
      const r = await c.request({ path: `/${i}`, method: i % 2 === 0 ? 'GET' : 'POST', body: i % 2 === 0 ? undefined : `body ${i}` });
      expect(await r.body.text()).toBe(`r/${i}`);
    }
    expect(downstreamConnections).toBe(1);
    const stats = proxy.stats();
    expect(stats.pool.newConnections).toBeLessThanOrEqual(1);
    expect(stats.pool.reusedConnections).toBe(199);
    expect(stats.requests).toBe(200);
    expect(stats.activeConnections).toBe(1);
    expect(upstreamConnections).toBe(1);
  });

  test('stats(): requests, active requests and connections, pool counters', async () => {
    let release: () => void = () => {};
    let reached = false;
    const up = await res.httpServer((_req, r) => {
      release = () => r.end('done');
      reached = true;
    });
    const peer = new HttpPeer(up.address);
    const { url, proxy } = await startProxy(res, { newCtx: () => null, upstreamPeer: () => peer });
    expect(proxy.stats()).toEqual({
      requests: 0,
      activeRequests: 0,
      activeConnections: 0,
      pool: { newConnections: 0, reusedConnections: 0, idleConnections: 0, activeConnections: 0, h2: { newSessions: 0, sessions: 0, streams: 0, activeStreams: 0 } },
      cache: null,
    });
    const pending = client(res, url).request({ path: '/', method: 'GET' });
    // The upstream holds the response until `release`: wait for the request to reach it.
    await until(() => reached);
    expect(proxy.stats()).toMatchObject({ requests: 1, activeRequests: 1, activeConnections: 1, pool: { activeConnections: 1 } });
    release();
    await (await pending).body.text();
    await until(() => proxy.stats().activeRequests === 0);
    expect(proxy.stats().pool).toMatchObject({ newConnections: 1, reusedConnections: 0, idleConnections: 1, activeConnections: 0 });
  });

  test('a pool passed in is shared by proxies and left open on shutdown', async () => {
    const up = await res.httpServer((_req, r) => r.end('x'));
    const pool = new ConnectionPool({ size: 4 });
    res.defer(() => pool.destroy());
    const peer = new HttpPeer(up.address);
    const a = await startProxy(res, { newCtx: () => null, upstreamPeer: () => peer }, { pool });
    const b = await startProxy(res, { newCtx: () => null, upstreamPeer: () => peer }, { pool });
    await (await client(res, a.url).request({ path: '/', method: 'GET' })).body.text();
    await (await client(res, b.url).request({ path: '/', method: 'GET' })).body.text();
    expect(pool.newConnections).toBe(1);
    expect(pool.reusedConnections).toBe(1);
    await a.proxy.shutdown({ graceful: true, timeoutMs: 1000 });
    await (await client(res, b.url).request({ path: '/', method: 'GET' })).body.text();
    expect(pool.reusedConnections).toBe(2);
  });

  test('publishes pingora-ts:proxy:request with what an access log needs', async () => {
    const up = await res.httpServer((_req, r) => r.end('hello'));
    const peer = new HttpPeer(up.address);
    const { url } = await startProxy(res, { newCtx: () => null, upstreamPeer: () => peer });
    const messages: ProxyRequestMessage[] = [];
    const onMessage = (m: unknown): void => {
      messages.push(m as ProxyRequestMessage);
    };
    subscribe(CHANNELS.request, onMessage);
    try {
      const c = client(res, url);
      await (await c.request({ path: '/one?x=1', method: 'GET' })).body.text();
      await (await c.request({ path: '/two', method: 'DELETE' })).body.text();
      await until(() => messages.length === 2);
    } finally {
      unsubscribe(CHANNELS.request, onMessage);
    }
    expect(messages[0]).toMatchObject({
      service: 'test-proxy',
      method: 'GET',
      path: '/one?x=1',
      status: 200,
      bytesSent: 5,
      clientAddr: '127.0.0.1',
      upstream: up.address,
      reused: false,
      retries: 0,
      error: null,
    });
    expect(messages[0]?.durationMs).toBeGreaterThan(0);
    expect(messages[1]).toMatchObject({ method: 'DELETE', path: '/two', reused: true });
  });

  test('the logging hook can print method, path, status, bytes, duration, upstream and reuse', async () => {
    const up = await res.httpServer((_req, r) => r.end('0123456789'));
    const peer = new HttpPeer(up.address);
    const lines: string[] = [];
    const { url } = await startProxy(res, {
      newCtx: () => null,
      upstreamPeer: () => peer,
      logging: (s, e) => {
        const upstream = s.upstream === null ? '-' : `${s.upstream.address} ${s.upstream.reused ? 'reused' : 'new'}`;
        lines.push(`${s.clientAddr} ${s.method} ${s.path} ${s.status} ${s.bytesSent} ${s.durationMs() >= 0 ? 'ms' : '?'} ${upstream} ${s.retries} ${e?.kind ?? '-'}`);
      },
    });
    const c = client(res, url);
    await (await c.request({ path: '/a', method: 'GET' })).body.text();
    await (await c.request({ path: '/b', method: 'GET' })).body.text();
    await until(() => lines.length === 2);
    expect(lines).toEqual([
      `127.0.0.1 GET /a 200 10 ms ${up.address} new 0 -`,
      `127.0.0.1 GET /b 200 10 ms ${up.address} reused 0 -`,
    ]);
  });

  test('distinct peers keep distinct upstream connections', async () => {
    const a = await res.httpServer((_req, r) => r.end('a'));
    const b = await res.httpServer((_req, r) => r.end('b'));
    const seen: net.Socket[] = [];
    a.server.on('connection', (s: net.Socket) => seen.push(s));
    b.server.on('connection', (s: net.Socket) => seen.push(s));
    const peers = [new HttpPeer(a.address), new HttpPeer(b.address)];
    let n = 0;
    const { url, proxy } = await startProxy(res, { newCtx: () => null, upstreamPeer: () => peers[n++ % 2] as HttpPeer });
    const c = client(res, url);
    const bodies: string[] = [];
    for (let i = 0; i < 6; i++) bodies.push(await (await c.request({ path: '/', method: 'GET' })).body.text());
    expect(bodies).toEqual(['a', 'b', 'a', 'b', 'a', 'b']);
    expect(seen.length).toBe(2);
    expect(proxy.stats().pool).toMatchObject({ newConnections: 2, reusedConnections: 4 });
  });
});
