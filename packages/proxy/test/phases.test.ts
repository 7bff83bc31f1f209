/**
 * Records the hooks called for real requests and checks them against the expected sequences
 * and against the chart in docs/phases.md (every step must be an edge of the chart).
 */
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { DEFAULT_HOOKS, HOOK_NAMES, HttpPeer, type ProxyHttp } from '@pingora-ts/proxy';
import type { ProxyError } from '@pingora-ts/core';
import { DOWNSTREAMS, Resources, client, rawExchange, startProxy, useDownstream } from './resources';

const res = new Resources();
afterEach(() => res.closeAll());

interface Ctx {
  calls: string[];
}

/** A ProxyHttp that records every hook (consecutive repeats of body filters collapsed). */
function recorder(peers: HttpPeer[]) {
  const logged: Array<{ calls: string[]; error: ProxyError | null; status: number }> = [];
  let notify: () => void = () => {};
  const rec = (ctx: Ctx, name: string): void => {
    if (ctx.calls[ctx.calls.length - 1] !== name) ctx.calls.push(name);
  };
  const app: ProxyHttp<Ctx> = {
    newCtx: () => ({ calls: ['newCtx'] }),
    earlyRequestFilter: (_s, ctx) => rec(ctx, 'earlyRequestFilter'),
    requestFilter: async (s, ctx) => {
      rec(ctx, 'requestFilter');
      if (s.path === '/health') {
        s.respond(200, { 'content-type': 'text/plain' }, 'healthy');
        return true;
      }
      return false;
    },
    allowConnect: (s, ctx) => {
      rec(ctx, 'allowConnect');
      return s.headers['x-allow'] === 'yes';
    },
    proxyUpstreamFilter: (_s, ctx) => {
      rec(ctx, 'proxyUpstreamFilter');
      return true;
    },
    upstreamPeer: async (s, ctx) => {
      rec(ctx, 'upstreamPeer');
      return peers[Math.min(s.retries, peers.length - 1)] as HttpPeer;
    },
    connectedToUpstream: (_s, _reused, _peer, ctx) => rec(ctx, 'connectedToUpstream'),
    failToConnect: (_s, _peer, ctx, e) => {
      rec(ctx, 'failToConnect');
      return e;
    },
    upstreamRequestFilter: (_s, _req, ctx) => rec(ctx, 'upstreamRequestFilter'),
    requestBodyFilter: (_s, _chunk, _end, ctx) => rec(ctx, 'requestBodyFilter'),
    requestTrailerFilter: (_s, _trailers, ctx) => rec(ctx, 'requestTrailerFilter'),
    upstreamResponseFilter: (_s, _resp, ctx) => rec(ctx, 'upstreamResponseFilter'),
    requestCacheFilter: (s, ctx) => {
      rec(ctx, 'requestCacheFilter');
      return DEFAULT_HOOKS.requestCacheFilter(s, ctx);
    },
    cacheKeyCallback: (s, ctx) => {
      rec(ctx, 'cacheKeyCallback');
      return DEFAULT_HOOKS.cacheKeyCallback(s, ctx);
    },
    cacheHitFilter: (s, meta, ctx) => {
      rec(ctx, 'cacheHitFilter');
      return DEFAULT_HOOKS.cacheHitFilter(s, meta, ctx);
    },
    cacheMissFilter: (_s, ctx) => rec(ctx, 'cacheMissFilter'),
    responseCacheFilter: (s, resp, ctx) => {
      rec(ctx, 'responseCacheFilter');
      return DEFAULT_HOOKS.responseCacheFilter(s, resp, ctx);
    },
    cacheVaryFilter: async (s, meta, ctx) => {
      rec(ctx, 'cacheVaryFilter');
      return DEFAULT_HOOKS.cacheVaryFilter(s, meta, ctx);
    },
    responseFilter: (_s, _resp, ctx) => rec(ctx, 'responseFilter'),
    responseBodyFilter: (_s, _chunk, _end, ctx) => rec(ctx, 'responseBodyFilter'),
    upstreamResponseTrailerFilter: (_s, _trailers, ctx) => rec(ctx, 'upstreamResponseTrailerFilter'),
    errorWhileProxy: (peer, s, e, ctx, reused) => {
      rec(ctx, 'errorWhileProxy');
      return DEFAULT_HOOKS.errorWhileProxy(peer, s, e, ctx, reused);
    },
    failToProxy: (s, e, ctx) => {
      rec(ctx, 'failToProxy');
      return DEFAULT_HOOKS.failToProxy(s, e, ctx);
    },
    logging: (s, e, ctx) => {
      rec(ctx, 'logging');
      logged.push({ calls: ctx.calls, error: e, status: s.status });
      notify();
    },
  };
  const next = (): Promise<{ calls: string[]; error: ProxyError | null; status: number }> =>
    new Promise((resolve) => {
      notify = () => resolve(logged.shift() as (typeof logged)[number]);
      if (logged.length > 0) notify();
    });
  return { app, next };
}

/** Edges of docs/phases.md; a step a -> b is allowed if b is reachable through non-hook nodes only. */
function chartAllows(): (a: string, b: string) => boolean {
  const text = fs.readFileSync(path.join(__dirname, '..', 'docs', 'phases.md'), 'utf8');
  const chart = /```mermaid\n([\s\S]*?)```/.exec(text)?.[1] ?? '';
  const edges = new Map<string, Set<string>>();
  const edge = /^\s*(\w+)(?:[[({].*?[\])}])?\s*-->\s*(?:\|[^|]*\|\s*)?(\w+)/;
  for (const line of chart.split('\n')) {
    const m = edge.exec(line);
    if (m === null) continue;
    const from = m[1] as string;
    if (!edges.has(from)) edges.set(from, new Set());
    (edges.get(from) as Set<string>).add(m[2] as string);
  }
  const hooks = new Set<string>(HOOK_NAMES);
  return (a, b) => {
    const seen = new Set<string>();
    const stack = [...(edges.get(a) ?? [])];
    while (stack.length > 0) {
      const n = stack.pop() as string;
      if (n === b) return true;
      if (hooks.has(n) || seen.has(n)) continue;
      seen.add(n);
      stack.push(...(edges.get(n) ?? []));
    }
    return false;
  };
}

const allows = chartAllows();

function expectOnChart(calls: string[]): void {
  const bad = calls.slice(1).map((b, i) => [calls[i] as string, b] as const).filter(([a, b]) => !allows(a, b));
  expect(bad).toEqual([]);
}

describe.each(DOWNSTREAMS)('%s downstream', (downstream) => {
  beforeEach(() => useDownstream(downstream));

  test('the chart names every hook', () => {
    const text = fs.readFileSync(path.join(__dirname, '..', 'docs', 'phases.md'), 'utf8');
    for (const hook of HOOK_NAMES) expect(text).toContain(hook);
  });

  test('plain GET: hook order', async () => {
    const up = await res.httpServer((_req, r) => r.end('hello'));
    const { app, next } = recorder([new HttpPeer(up.address)]);
    const { url } = await startProxy(res, app);
    const r = await client(res, url).request({ path: '/', method: 'GET' });
    expect(await r.body.text()).toBe('hello');
    const log = await next();
    expect(log.calls).toEqual([
      'newCtx',
      'earlyRequestFilter',
      'requestFilter',
      'proxyUpstreamFilter',
      'upstreamPeer',
      'connectedToUpstream',
      'upstreamRequestFilter',
      'upstreamResponseFilter',
      'responseFilter',
      'responseBodyFilter',
      'logging',
    ]);
    expect(log.error).toBeNull();
    expectOnChart(log.calls);
  });

  test('with a cache: a miss, then a hit (served from the cache through responseFilter and responseBodyFilter)', async () => {
    const up = await res.httpServer((_req, r) => {
      r.setHeader('cache-control', 'max-age=60');
      r.end('cached');
    });
    const { app, next } = recorder([new HttpPeer(up.address)]);
    const { url } = await startProxy(res, app, { cache: {} });
    const c = client(res, url);
    for (let i = 0; i < 2; i++) expect(await (await c.request({ path: '/c', method: 'GET' })).body.text()).toBe('cached');
    const miss = await next();
    expect(miss.calls).toEqual([
      'newCtx',
      'earlyRequestFilter',
      'requestFilter',
      'requestCacheFilter',
      'cacheKeyCallback',
      'cacheMissFilter',
      'proxyUpstreamFilter',
      'upstreamPeer',
      'connectedToUpstream',
      'upstreamRequestFilter',
      'upstreamResponseFilter',
      'responseCacheFilter',
      'cacheVaryFilter',
      'responseFilter',
      'responseBodyFilter',
      'logging',
    ]);
    const hit = await next();
    expect(hit.calls).toEqual(['newCtx', 'earlyRequestFilter', 'requestFilter', 'requestCacheFilter', 'cacheKeyCallback', 'cacheHitFilter', 'responseFilter', 'responseBodyFilter', 'logging']);
    expectOnChart(miss.calls);
    expectOnChart(hit.calls);
  });

  test('WebSocket upgrade: the 101 goes through the response head hooks, then the tunnel; logging once it closed', async () => {
    const up = await res.netServer((s) => {
      s.once('data', () => s.end('HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\nUpgrade: raw\r\n\r\nbye'));
    });
    const { app, next } = recorder([new HttpPeer(up.address)]);
    const { port } = await startProxy(res, app);
    const c = res.socket(net.connect(port, '127.0.0.1'));
    c.on('data', () => {});
    c.write('GET /ws HTTP/1.1\r\nHost: x\r\nConnection: upgrade\r\nUpgrade: raw\r\n\r\n');
    c.on('end', () => c.end());
    const log = await next();
    expect(log.calls).toEqual([
      'newCtx',
      'earlyRequestFilter',
      'requestFilter',
      'proxyUpstreamFilter',
      'upstreamPeer',
      'connectedToUpstream',
      'upstreamRequestFilter',
      'upstreamResponseFilter',
      'responseFilter',
      'logging',
    ]);
    expect(log.status).toBe(101);
    expectOnChart(log.calls);
  });

  test('CONNECT: refused by default allowConnect (405); allowed, it tunnels without the request hooks of the try', async () => {
    const up = await res.netServer((s) => s.end('hi'));
    const { app, next } = recorder([new HttpPeer(up.address)]);
    const { port } = await startProxy(res, app);
    const ask = (allow: boolean): void => {
      const c = res.socket(net.connect(port, '127.0.0.1'));
      c.on('data', () => {});
      c.on('end', () => c.end());
      c.on('error', () => {});
      c.write(`CONNECT ${up.address} HTTP/1.1\r\nHost: ${up.address}\r\n${allow ? 'X-Allow: yes\r\n' : ''}\r\n`);
    };
    ask(false);
    const refused = await next();
    expect(refused.calls).toEqual(['newCtx', 'earlyRequestFilter', 'requestFilter', 'allowConnect', 'logging']);
    expect(refused.status).toBe(405);
    expectOnChart(refused.calls);
    ask(true);
    const allowed = await next();
    expect(allowed.calls).toEqual(['newCtx', 'earlyRequestFilter', 'requestFilter', 'allowConnect', 'proxyUpstreamFilter', 'upstreamPeer', 'connectedToUpstream', 'logging']);
    expect(allowed.status).toBe(200);
    expectOnChart(allowed.calls);
  });

  test('POST with a body: requestBodyFilter runs after upstreamRequestFilter', async () => {
    const up = await res.httpServer((req, r) => {
      req.resume();
      req.on('end', () => r.end('got it'));
    });
    const { app, next } = recorder([new HttpPeer(up.address)]);
    const { url } = await startProxy(res, app);
    const r = await client(res, url).request({ path: '/', method: 'POST', body: 'payload' });
    expect(await r.body.text()).toBe('got it');
    const log = await next();
    expect(log.calls).toEqual([
      'newCtx',
      'earlyRequestFilter',
      'requestFilter',
      'proxyUpstreamFilter',
      'upstreamPeer',
      'connectedToUpstream',
      'upstreamRequestFilter',
      'requestBodyFilter',
      'upstreamResponseFilter',
      'responseFilter',
      'responseBodyFilter',
      'logging',
    ]);
    expectOnChart(log.calls);
  });

  test('trailers both ways: requestTrailerFilter after the body, upstreamResponseTrailerFilter after the response body', async () => {
    const up = await res.httpServer((req, r) => {
      req.resume();
      req.on('end', () => {
        r.writeHead(200, { trailer: 'x-sum' });
        r.write('body');
        r.addTrailers({ 'x-sum': String(req.rawTrailers.length) });
        r.end();
      });
    });
    const { app, next } = recorder([new HttpPeer(up.address)]);
    const { port } = await startProxy(res, app);
    const reply = await rawExchange(
      res,
      port,
      'POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n3\r\nabc\r\n0\r\nX-T: 1\r\n\r\n',
    );
    expect(reply).toMatch(/\r\n0\r\nx-sum: 2\r\n\r\n$/);
    const log = await next();
    expect(log.calls).toEqual([
      'newCtx',
      'earlyRequestFilter',
      'requestFilter',
      'proxyUpstreamFilter',
      'upstreamPeer',
      'connectedToUpstream',
      'upstreamRequestFilter',
      'requestBodyFilter',
      'requestTrailerFilter',
      'upstreamResponseFilter',
      'responseFilter',
      'responseBodyFilter',
      'upstreamResponseTrailerFilter',
      'logging',
    ]);
    expectOnChart(log.calls);
  });

  test('retry after connect refused: upstreamPeer is asked again and the second peer answers', async () => {
    const refused = await res.refusedPort();
    const up = await res.httpServer((_req, r) => r.end('second'));
    const { app, next } = recorder([new HttpPeer(`127.0.0.1:${refused}`), new HttpPeer(up.address)]);
    const { url } = await startProxy(res, app);
    const r = await client(res, url).request({ path: '/', method: 'GET' });
    expect(r.statusCode).toBe(200);
    expect(await r.body.text()).toBe('second');
    const log = await next();
    expect(log.calls).toEqual([
      'newCtx',
      'earlyRequestFilter',
      'requestFilter',
      'proxyUpstreamFilter',
      'upstreamPeer',
      'failToConnect',
      'upstreamPeer',
      'connectedToUpstream',
      'upstreamRequestFilter',
      'upstreamResponseFilter',
      'responseFilter',
      'responseBodyFilter',
      'logging',
    ]);
    expectOnChart(log.calls);
  });

  test('early response from requestFilter: straight to logging', async () => {
    const { app, next } = recorder([new HttpPeer('127.0.0.1:1')]);
    const { url } = await startProxy(res, app);
    const r = await client(res, url).request({ path: '/health', method: 'GET' });
    expect(r.statusCode).toBe(200);
    expect(await r.body.text()).toBe('healthy');
    const log = await next();
    expect(log.calls).toEqual(['newCtx', 'earlyRequestFilter', 'requestFilter', 'logging']);
    expect(log.status).toBe(200);
    expectOnChart(log.calls);
  });

  test('every peer refuses: retries run out, failToProxy sends 502', async () => {
    const refused = await res.refusedPort();
    const { app, next } = recorder([new HttpPeer(`127.0.0.1:${refused}`)]);
    const { url } = await startProxy(res, app, { maxRetries: 2 });
    const r = await client(res, url).request({ path: '/', method: 'GET' });
    expect(r.statusCode).toBe(502);
    expect(await r.body.text()).toBe('502 Bad Gateway\n');
    const log = await next();
    expect(log.calls).toEqual([
      'newCtx',
      'earlyRequestFilter',
      'requestFilter',
      'proxyUpstreamFilter',
      'upstreamPeer',
      'failToConnect',
      'upstreamPeer',
      'failToConnect',
      'upstreamPeer',
      'failToConnect',
      'failToProxy',
      'logging',
    ]);
    expect(log.error?.kind).toBe('ConnectRefused');
    expect(log.status).toBe(502);
    expectOnChart(log.calls);
  });

  test('upstream resets a fresh connection: errorWhileProxy, no retry, 502', async () => {
    const up = await res.netServer((s) => s.once('data', () => s.destroy()));
    const { app, next } = recorder([new HttpPeer(up.address)]);
    const { url } = await startProxy(res, app);
    const r = await client(res, url).request({ path: '/', method: 'GET' });
    expect(r.statusCode).toBe(502);
    await r.body.text();
    const log = await next();
    expect(log.calls).toEqual([
      'newCtx',
      'earlyRequestFilter',
      'requestFilter',
      'proxyUpstreamFilter',
      'upstreamPeer',
      'connectedToUpstream',
      'upstreamRequestFilter',
      'errorWhileProxy',
      'failToProxy',
      'logging',
    ]);
    expect(log.error?.kind).toBe('ConnectionClosed');
    expectOnChart(log.calls);
  });
});
