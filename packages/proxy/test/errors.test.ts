import * as net from 'node:net';
import { ProxyError } from '@pingora-ts/core';
import { HttpPeer, type ProxyHttp } from '@pingora-ts/proxy';
import { DOWNSTREAMS, MemoryLogger, Resources, client, rawExchange, sleep, startProxy, until, useDownstream } from './resources';

const res = new Resources();
afterEach(() => res.closeAll());

/** An app sending everything to `peer`, keeping the error `logging` saw. */
function toPeer(peer: HttpPeer, extra: Partial<ProxyHttp<null>> = {}) {
  const errors: Array<ProxyError | null> = [];
  const app: ProxyHttp<null> = {
    newCtx: () => null,
    upstreamPeer: () => peer,
    logging: (_s, e) => {
      errors.push(e);
    },
    ...extra,
  };
  return { app, errors };
}

describe.each(DOWNSTREAMS)('%s downstream', (downstream) => {
  beforeEach(() => useDownstream(downstream));

  test('all peers refuse: 502 after maxRetries retries, logged as warn', async () => {
    const refused = await res.refusedPort();
    let asked = 0;
    const peer = new HttpPeer(`127.0.0.1:${refused}`);
    const logger = new MemoryLogger();
    const { app, errors } = toPeer(peer, {
      upstreamPeer: () => {
        asked++;
        return peer;
      },
    });
    const { url } = await startProxy(res, app, { maxRetries: 3, logger });
    const r = await client(res, url).request({ path: '/', method: 'GET' });
    expect(r.statusCode).toBe(502);
    expect(r.headers.connection).toBe('close');
    expect(await r.body.text()).toBe('502 Bad Gateway\n');
    await until(() => errors.length === 1);
    expect(asked).toBe(4);
    expect(errors[0]?.kind).toBe('ConnectRefused');
    expect(logger.lines.find((l) => l.level === 'warn')?.obj).toMatchObject({ kind: 'ConnectRefused', status: 502, retries: 3 });
  });

  test('slow upstream: 504 after readTimeoutMs, and the upstream request is aborted', async () => {
    let upstreamClosed = false;
    const up = await res.httpServer((_req, r) => {
      r.on('close', () => (upstreamClosed = true));
      setTimeout(() => r.end('too late'), 2000).unref();
    });
    const { app, errors } = toPeer(new HttpPeer(up.address, false, '', { readTimeoutMs: 150 }));
    const { url } = await startProxy(res, app);
    const started = Date.now();
    const r = await client(res, url).request({ path: '/', method: 'GET' });
    expect(r.statusCode).toBe(504);
    expect(await r.body.text()).toBe('504 Gateway Timeout\n');
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
    await until(() => errors.length === 1 && upstreamClosed);
    expect(errors[0]?.kind).toBe('ReadTimedout');
  });

  test('the client going away aborts the upstream request', async () => {
    let upstreamGotRequest = false;
    let upstreamSawClose = false;
    const up = await res.httpServer((_req, r) => {
      upstreamGotRequest = true;
      r.on('close', () => (upstreamSawClose = !r.writableFinished));
    });
    const { app, errors } = toPeer(new HttpPeer(up.address));
    const { port, proxy } = await startProxy(res, app);
    const s = res.socket(net.connect(port, '127.0.0.1'));
    s.on('error', () => {});
    s.write('GET /hang HTTP/1.1\r\nHost: x\r\n\r\n');
    await until(() => upstreamGotRequest, 3000, 'upstream to get the request');
    s.destroy();
    await until(() => upstreamSawClose, 3000, 'upstream to see its request aborted');
    await until(() => errors.length === 1);
    expect(errors[0]?.kind).toBe('ClientGone');
    expect(proxy.stats()).toMatchObject({ activeRequests: 0, pool: { activeConnections: 0 } });
  });

  test('the client going away mid-body aborts the upstream response', async () => {
    let upstreamSawClose = false;
    const up = await res.httpServer((_req, r) => {
      r.on('close', () => (upstreamSawClose = !r.writableFinished));
      r.write('first chunk');
      const t = setInterval(() => r.write('more'), 20);
      r.on('close', () => clearInterval(t));
    });
    const { app } = toPeer(new HttpPeer(up.address));
    const { port } = await startProxy(res, app);
    const s = res.socket(net.connect(port, '127.0.0.1'));
    s.on('error', () => {});
    let got = '';
    s.on('data', (d) => (got += d.toString()));
    s.write('GET /stream HTTP/1.1\r\nHost: x\r\n\r\n');
    await until(() => got.includes('first chunk'), 3000, 'first chunk');
    s.destroy();
    await until(() => upstreamSawClose, 3000, 'upstream to see its response aborted');
  });

  test('malformed request: 400, connection closed, warn log with reason and client; other connections unharmed', async () => {
    const up = await res.httpServer((req, r) => r.end(`ok ${req.url}`));
    const logger = new MemoryLogger();
    const { app } = toPeer(new HttpPeer(up.address));
    const { port, url } = await startProxy(res, app, { logger });
    const keepAlive = client(res, url);
    expect(await (await keepAlive.request({ path: '/before', method: 'GET' })).body.text()).toBe('ok /before');

    const reply = await rawExchange(res, port, 'GET / HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n');
    expect(reply).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);
    expect(reply).toMatch(/\r\nConnection: close\r\n/);
    const warn = logger.lines.find((l) => l.level === 'warn');
    expect(warn?.msg).toBe('malformed request from client');
    expect(warn?.obj).toMatchObject({ status: 400, client: '127.0.0.1' });
    expect(String(warn?.obj.reason)).toMatch(/^HPE_/);

    expect(await (await keepAlive.request({ path: '/after', method: 'GET' })).body.text()).toBe('ok /after');
  });

  test('request head larger than maxHeaderSize: 431', async () => {
    const { app } = toPeer(new HttpPeer('127.0.0.1:1'));
    const logger = new MemoryLogger();
    const { port } = await startProxy(res, app, { maxHeaderSize: 1024, logger });
    const reply = await rawExchange(res, port, `GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(2000)}\r\n\r\n`);
    expect(reply).toMatch(/^HTTP\/1\.1 431 /);
    expect(logger.lines.some((l) => l.level === 'warn' && l.obj.reason === 'HPE_HEADER_OVERFLOW')).toBe(true);
  });

  test('a stale reused upstream connection is retried on a new one (GET)', async () => {
    // First request on each connection is answered; the second one is dropped without a reply.
    const up = await res.netServer((s) => {
      let n = 0;
      s.on('data', () => {
        if (++n === 1) s.write('HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfresh');
        else s.destroy();
      });
    });
    const { app, errors } = toPeer(new HttpPeer(up.address));
    const { url, proxy } = await startProxy(res, app);
    const c = client(res, url);
    expect(await (await c.request({ path: '/1', method: 'GET' })).body.text()).toBe('fresh');
    const r = await c.request({ path: '/2', method: 'GET' });
    expect(r.statusCode).toBe(200);
    expect(await r.body.text()).toBe('fresh');
    expect(proxy.stats().pool).toMatchObject({ newConnections: 2, reusedConnections: 1 });
    await until(() => errors.length === 2);
    expect(errors).toEqual([null, null]);
  });

  test('a stale reused connection is not retried once request body bytes were sent (POST): 502', async () => {
    const up = await res.netServer((s) => {
      let n = 0;
      s.on('data', () => {
        if (++n === 1) s.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
        else setTimeout(() => s.destroy(), 20);
      });
    });
    const { app, errors } = toPeer(new HttpPeer(up.address));
    const { url } = await startProxy(res, app);
    const c = client(res, url);
    expect((await c.request({ path: '/', method: 'GET' })).statusCode).toBe(200);
    const r = await c.request({ path: '/', method: 'POST', body: 'payload' });
    expect(r.statusCode).toBe(502);
    await r.body.text();
    await until(() => errors.length === 2);
    expect(errors[1]?.kind).toBe('ConnectionClosed');
  });

  test('upstream dies mid-body: the downstream connection is dropped, the next request works', async () => {
    let n = 0;
    const up = await res.netServer((s) =>
      s.on('data', () => {
        if (n++ === 0) {
          s.write('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial');
          setTimeout(() => s.destroy(), 20);
        } else {
          s.write('HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nfine');
        }
      }),
    );
    const { app, errors } = toPeer(new HttpPeer(up.address));
    const { url } = await startProxy(res, app);
    const c = client(res, url);
    const broken = await c.request({ path: '/', method: 'GET' });
    expect(broken.statusCode).toBe(200);
    await expect(broken.body.text()).rejects.toThrow();
    await until(() => errors.length === 1);
    expect(errors[0]?.kind).toBe('ReadError');
    const next = await client(res, url).request({ path: '/', method: 'GET' });
    expect(await next.body.text()).toBe('fine');
  });

  test('a hook that throws ends the request: 500 for a bug, the status of ProxyError.httpStatus', async () => {
    const { app, errors } = toPeer(new HttpPeer('127.0.0.1:1'), {
      requestFilter: (s) => {
        if (s.path === '/forbidden') throw ProxyError.httpStatus(403);
        throw new Error('bug in my hook');
      },
    });
    const { url } = await startProxy(res, app);
    const c = client(res, url);
    const a = await c.request({ path: '/oops', method: 'GET' });
    expect(a.statusCode).toBe(500);
    expect(await a.body.text()).toBe('500 Internal Server Error\n');
    const b = await client(res, url).request({ path: '/forbidden', method: 'GET' });
    expect(b.statusCode).toBe(403);
    await b.body.text();
    await until(() => errors.length === 2);
    expect(errors.map((e) => e?.kind)).toEqual(['InternalError', 'HTTPStatus']);
  });

  test('upstreamPeer failing with NoHealthyUpstream: 502 without retries', async () => {
    let asked = 0;
    const { app, errors } = toPeer(new HttpPeer('127.0.0.1:1'), {
      upstreamPeer: () => {
        asked++;
        throw ProxyError.upstream('NoHealthyUpstream', 'no backend is healthy');
      },
    });
    const { url } = await startProxy(res, app);
    const r = await client(res, url).request({ path: '/', method: 'GET' });
    expect(r.statusCode).toBe(502);
    await r.body.text();
    await until(() => errors.length === 1);
    expect(asked).toBe(1);
  });

  test('proxyUpstreamFilter returning false: 502 with no body, no error', async () => {
    const { app, errors } = toPeer(new HttpPeer('127.0.0.1:1'), { proxyUpstreamFilter: () => false });
    const { url } = await startProxy(res, app);
    const r = await client(res, url).request({ path: '/', method: 'GET' });
    expect(r.statusCode).toBe(502);
    expect(await r.body.text()).toBe('');
    await until(() => errors.length === 1);
    expect(errors[0]).toBeNull();
  });

  test('requestFilter returning true without a response: 500', async () => {
    const { app } = toPeer(new HttpPeer('127.0.0.1:1'), { requestFilter: () => true });
    const { url } = await startProxy(res, app);
    const r = await client(res, url).request({ path: '/', method: 'GET' });
    expect(r.statusCode).toBe(500);
    await r.body.text();
  });

  test('invalid upstream response: 502, and the proxy keeps serving', async () => {
    const bad = await res.netServer((s) => s.once('data', () => s.write('SPDY/3 200 OK\r\n\r\n')));
    const good = await res.httpServer((_req, r) => r.end('good'));
    let first = true;
    const { app } = toPeer(new HttpPeer(bad.address), {
      upstreamPeer: () => {
        const p = new HttpPeer(first ? bad.address : good.address);
        first = false;
        return p;
      },
    });
    const { url } = await startProxy(res, app);
    const r = await client(res, url).request({ path: '/', method: 'GET' });
    expect(r.statusCode).toBe(502);
    await r.body.text();
    await sleep(5);
    expect(await (await client(res, url).request({ path: '/', method: 'GET' })).body.text()).toBe('good');
  });
});
