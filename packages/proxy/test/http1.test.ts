/**
 * Downstream HTTP/1.1 behaviours both paths must share: 100-continue, pipelining one request
 * at a time, HTTP/1.0 clients, timeouts, long heads, `Upgrade` served as plain HTTP, the
 * session's view of the request, and client aborts during an upload.
 */
import * as http from 'node:http';
import * as net from 'node:net';
import { HttpPeer, HttpProxy, type ProxyHttp, type Session } from '@pingora-ts/proxy';
import { DOWNSTREAMS, MemoryLogger, Resources, client, rawExchange, startProxy, until, useDownstream } from './resources';

const res = new Resources();
afterEach(() => res.closeAll());

const to = (address: string, extra: Partial<ProxyHttp<null>> = {}): ProxyHttp<null> => {
  const peer = new HttpPeer(address);
  return { newCtx: () => null, upstreamPeer: () => peer, ...extra };
};

/** Opens a raw connection that collects what it receives. */
function rawClient(port: number): { socket: net.Socket; got: () => string; closed: Promise<void> } {
  const socket = res.socket(net.connect(port, '127.0.0.1'));
  let got = '';
  socket.on('data', (d) => (got += d.toString('latin1')));
  socket.on('error', () => {});
  const closed = new Promise<void>((r) => socket.on('close', () => r()));
  return { socket, got: () => got, closed };
}

describe.each(DOWNSTREAMS)('%s downstream', (downstream) => {
  beforeEach(() => useDownstream(downstream));

  test('Expect: 100-continue: the client gets 100 Continue, the upstream the body without Expect', async () => {
    let seen: http.IncomingHttpHeaders = {};
    const up = await res.httpServer((req, r) => {
      seen = req.headers;
      let body = '';
      req.on('data', (d: Buffer) => (body += d.toString()));
      req.on('end', () => r.end(`got ${body}`));
    });
    const { port } = await startProxy(res, to(up.address));
    const c = rawClient(port);
    c.socket.write('POST /up HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n');
    await until(() => c.got().includes('100 Continue'), 3000, '100 Continue');
    expect(c.got()).toBe('HTTP/1.1 100 Continue\r\n\r\n');
    c.socket.write('hello');
    await until(() => c.got().endsWith('got hello'), 3000, 'the response');
    expect(c.got()).toMatch(/^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 200 OK\r\n/);
    expect(seen.expect).toBeUndefined();
    expect(seen['content-length']).toBe('5');
  });

  test('pipelined requests are answered in order, one at a time upstream', async () => {
    let active = 0;
    let maxActive = 0;
    const order: string[] = [];
    const up = await res.httpServer((req, r) => {
      active++;
      maxActive = Math.max(maxActive, active);
      order.push(req.url as string);
      let body = '';
      req.on('data', (d: Buffer) => (body += d.toString()));
      req.on('end', () =>
        setTimeout(
          () => {
            active--;
            r.end(`${req.url}:${body}`);
          },
          req.url === '/1' ? 60 : 5,
        ),
      );
    });
    const { port } = await startProxy(res, to(up.address));
    const reply = await rawExchange(
      res,
      port,
      'GET /1 HTTP/1.1\r\nHost: x\r\n\r\n' +
        'POST /2 HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc' +
        'POST /3 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nde\r\n0\r\n\r\n' +
        'GET /4 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
    );
    const bodies = reply.split('\r\n\r\n').slice(1).map((b) => b.slice(0, b.indexOf('HTTP/1.1') < 0 ? undefined : b.indexOf('HTTP/1.1')));
    expect(bodies.map((b) => b.replace(/^[0-9a-f]+\r\n|\r\n0\r\n$|\r\n$/g, ''))).toEqual(['/1:', '/2:abc', '/3:de', '/4:']);
    expect(order).toEqual(['/1', '/2', '/3', '/4']);
    expect(maxActive).toBe(1);
  });

  test.each([0, 1, 7, 50])('Content-Length bodies and the heads after them, sent in pieces of %i bytes (0: at once)', async (piece) => {
    const up = await res.httpServer((req, r) => {
      let body = '';
      req.on('data', (d: Buffer) => (body += d.toString('latin1')));
      req.on('end', () => r.end(`[${req.url}:${body}]`));
    });
    const { port } = await startProxy(res, to(up.address));
    const big = 'z'.repeat(3000);
    const text =
      'POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello' +
      `PUT /b HTTP/1.1\r\nHost: x\r\nContent-Length: ${big.length}\r\n\r\n${big}` +
      'POST /c HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\n!' +
      'GET /d HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n';
    const c = rawClient(port);
    for (let i = 0; i < text.length; i += piece > 0 ? piece : text.length) {
      c.socket.write(text.slice(i, piece > 0 ? i + piece : undefined), 'latin1');
      if (piece > 0 && i % (piece * 64) === 0) await new Promise((r) => setImmediate(r));
    }
    await c.closed;
    const bodies = [...c.got().matchAll(/\[([^\]]*)\]/g)].map((m) => m[1]);
    expect(bodies).toEqual(['/a:hello', `/b:${big}`, '/c:!', '/d:']);
  });

  test.each([
    ['a GET', 'GET /a HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'],
    ['a Content-Length body', 'POST /a HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 2\r\n\r\nhi'],
    ['a chunked body', 'POST /a HTTP/1.1\r\nHost: x\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n'],
  ])('nothing after a Connection: close request with %s goes upstream', async (_name, first) => {
    const seen: string[] = [];
    const up = await res.httpServer((req, r) => {
      seen.push(req.url as string);
      req.resume();
      req.on('end', () => r.end(`[${req.url}]`));
    });
    const { port } = await startProxy(res, to(up.address));
    const reply = await rawExchange(res, port, first + 'GET /b HTTP/1.1\r\nHost: x\r\n\r\n');
    expect(seen).not.toContain('/b');
    // The fast path answers the first request and drops the rest; node:http refuses the whole
    // read with a 400 (llhttp's "data after Connection: close" comes before it dispatches).
    if (downstream === 'llhttp') expect(reply).toMatch(/^HTTP\/1\.1 200 OK\r\n[^]*\[\/a\]$/);
    else expect(reply).toMatch(/^HTTP\/1\.1 (200 OK|400 Bad Request)\r\n/);
  });

  test('HTTP/1.0 client: keep-alive only when asked, a body without length ends with the connection', async () => {
    const up = await res.netServer((s) => {
      let buf = '';
      s.on('data', (d) => {
        buf += d.toString('latin1');
        if (!buf.includes('\r\n\r\n')) return;
        buf = '';
        s.write('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n');
      });
    });
    const { port } = await startProxy(res, to(up.address));
    const plain = await rawExchange(res, port, 'GET / HTTP/1.0\r\n\r\n');
    expect(plain).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(plain).toMatch(/\r\nConnection: close\r\n/i);
    expect(plain).not.toMatch(/transfer-encoding/i);
    expect(plain.endsWith('\r\n\r\nhello')).toBe(true);

    const lengthUp = await res.httpServer((_req, r) => r.end('fixed'));
    const { port: port2 } = await startProxy(res, to(lengthUp.address));
    const c = rawClient(port2);
    c.socket.write('GET /a HTTP/1.0\r\nConnection: keep-alive\r\n\r\n');
    await until(() => c.got().endsWith('fixed'));
    expect(c.got()).toMatch(/\r\nConnection: keep-alive\r\n/i);
    c.socket.write('GET /b HTTP/1.0\r\nConnection: keep-alive\r\n\r\n');
    await until(() => c.got().split('fixed').length === 3);
    expect(c.socket.destroyed).toBe(false);
  });

  test('keepAliveTimeoutMs closes an idle connection', async () => {
    const up = await res.httpServer((_req, r) => r.end('x'));
    const { port } = await startProxy(res, to(up.address), { keepAliveTimeoutMs: 1500 });
    const c = rawClient(port);
    c.socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    await until(() => c.got().endsWith('\r\n\r\nx'), 3000, 'the response');
    expect(c.got()).toMatch(/\r\nKeep-Alive: timeout=1\r\n/);
    const started = Date.now();
    await c.closed;
    expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
  });

  test('headersTimeoutMs: a head that does not complete gets 408 and a warn line', async () => {
    const logger = new MemoryLogger();
    const { port } = await startProxy(res, to('127.0.0.1:1'), { headersTimeoutMs: 200, requestTimeoutMs: 1000, logger });
    const c = rawClient(port);
    c.socket.write('GET / HTTP/1.1\r\nHost: x\r\n');
    const started = Date.now();
    await c.closed;
    expect(Date.now() - started).toBeGreaterThanOrEqual(150);
    expect(c.got()).toMatch(/^HTTP\/1\.1 408 /);
    expect(logger.lines.find((l) => l.level === 'warn')?.obj).toMatchObject({ status: 408, reason: 'ERR_HTTP_REQUEST_TIMEOUT' });
  });

  test('requestTimeoutMs: a body that does not arrive in time ends the request; the upstream request is aborted', async () => {
    let upstreamClosed = false;
    const up = await res.httpServer((req, r) => {
      req.resume();
      req.on('end', () => r.end('late'));
      r.on('close', () => (upstreamClosed = true));
    });
    const { port } = await startProxy(res, to(up.address), { headersTimeoutMs: 200, requestTimeoutMs: 300 });
    const c = rawClient(port);
    c.socket.write('POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc');
    await c.closed;
    expect(c.got()).toMatch(/^(HTTP\/1\.1 408 |$)/);
    await until(() => upstreamClosed, 3000, 'upstream request to be aborted');
  });

  test('a head with more than 32 fields reaches the upstream whole', async () => {
    let seen: string[] = [];
    const up = await res.httpServer((req, r) => {
      seen = req.rawHeaders;
      r.end('ok');
    });
    const { port } = await startProxy(res, to(up.address));
    const fields = Array.from({ length: 40 }, (_, i) => `X-F${i}: v${i}\r\n`).join('');
    const reply = await rawExchange(res, port, `GET /many HTTP/1.1\r\nHost: x\r\n${fields}Connection: close\r\n\r\n`);
    expect(reply).toMatch(/^HTTP\/1\.1 200 /);
    for (let i = 0; i < 40; i++) expect(seen).toContain(`v${i}`);
  });

  test('an Upgrade request the upstream answers as plain HTTP: passed on (Upgrade forwarded), the connection stays HTTP', async () => {
    const urls: string[] = [];
    const up = await res.httpServer((req, r) => {
      urls.push(`${req.url} ${req.headers.upgrade ?? '-'}`);
      r.end('plain');
    });
    const { port } = await startProxy(res, to(up.address));
    const c = rawClient(port);
    c.socket.write('GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n');
    await until(() => c.got().endsWith('plain'), 3000, 'the response');
    expect(c.got()).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(urls).toEqual(['/ws websocket']);
    // node:http reads nothing more on a connection that asked for an upgrade; the fast path does.
    if (downstream === 'node:http') return;
    c.socket.write('GET /next HTTP/1.1\r\nHost: x\r\n\r\n');
    await until(() => c.got().split('plain').length === 3, 3000, 'the second response');
    expect(urls).toEqual(['/ws websocket', '/next -']);
  });

  test('session: headers (node:http rules), rawHeaders, httpVersion, client address', async () => {
    let view: Record<string, unknown> = {};
    const { url } = await startProxy(res, {
      newCtx: () => null,
      upstreamPeer: () => new HttpPeer('127.0.0.1:1'),
      requestFilter: (s: Session) => {
        view = { headers: { ...s.headers }, raw: s.rawHeaders.length, version: s.httpVersion, client: s.clientAddr, port: s.clientPort > 0 };
        s.respond(204);
        return true;
      },
    });
    const r = await client(res, url).request({
      path: '/',
      method: 'GET',
      headers: [['X-Multi', 'a'], ['x-multi', 'b'], ['Cookie', 'c=1'], ['cookie', 'd=2'], ['Set-Cookie', 's=1'], ['set-cookie', 's=2'], ['User-Agent', 'first'], ['user-agent', 'second']].flat(),
    });
    expect(r.statusCode).toBe(204);
    await r.body.text();
    expect(view).toMatchObject({
      headers: { 'x-multi': 'a, b', cookie: 'c=1; d=2', 'set-cookie': ['s=1', 's=2'], 'user-agent': 'first' },
      version: '1.1',
      client: '127.0.0.1',
      port: true,
    });
  });

  test('the client going away mid-upload aborts the upstream request', async () => {
    let upstreamSawAbort = false;
    let gotBytes = 0;
    const up = await res.httpServer((req, r) => {
      req.on('data', (d: Buffer) => (gotBytes += d.length));
      req.on('aborted', () => (upstreamSawAbort = true));
      r.on('close', () => (upstreamSawAbort ||= !r.writableFinished));
    });
    const { port } = await startProxy(res, to(up.address));
    const c = rawClient(port);
    c.socket.write('PUT /big HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n' + 'x'.repeat(1000));
    await until(() => gotBytes >= 1000, 3000, 'first body bytes upstream');
    c.socket.destroy();
    await until(() => upstreamSawAbort, 3000, 'upstream to see the upload aborted');
  });
});

test('session.downstream: node:http objects on the node path; a TypeError on the fast path', async () => {
  const seen: string[] = [];
  const app: ProxyHttp<null> = {
    newCtx: () => null,
    upstreamPeer: () => new HttpPeer('127.0.0.1:1'),
    requestFilter: (s) => {
      try {
        seen.push(typeof s.downstream.req.method);
      } catch (err) {
        seen.push((err as Error).name);
      }
      s.respond(200, {}, 'x');
      return true;
    },
  };
  for (const downstream of DOWNSTREAMS) {
    const { url } = await startProxy(res, app, { downstream });
    await (await client(res, url).request({ path: '/', method: 'GET' })).body.text();
  }
  expect(seen).toEqual(['TypeError', 'string']);
});

test('listen() logs which downstream path runs', async () => {
  for (const downstream of DOWNSTREAMS) {
    const logger = new MemoryLogger();
    const proxy = new HttpProxy('p', to('127.0.0.1:1'), { listeners: [{ addr: '127.0.0.1:0' }], downstream, logger });
    await proxy.listen();
    await proxy.shutdown({ graceful: false, timeoutMs: 0 });
    expect(logger.lines[0]).toMatchObject({ level: 'info', obj: { service: 'p', downstream } });
  }
  expect(() => new HttpProxy('p', to('127.0.0.1:1'), { listeners: [{ addr: '127.0.0.1:0' }], downstream: 'fastest' as never })).toThrow(
    'HttpProxy option "downstream" must be "llhttp" or "node:http"',
  );
});

test('a slow request body: requestTimeoutMs covers the whole request, so the fast path answers 408 before any upstream response', async () => {
  const up = await res.httpServer((req, r) => {
    req.resume();
    req.on('end', () => r.end('done'));
  });
  const { port } = await startProxy(res, to(up.address), { downstream: 'llhttp', headersTimeoutMs: 100, requestTimeoutMs: 250 });
  const c = rawClient(port);
  c.socket.write('POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc');
  await c.closed;
  expect(c.got()).toMatch(/^HTTP\/1\.1 408 /);
});
