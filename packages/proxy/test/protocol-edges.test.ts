/**
 * Where the protocols meet: fields HTTP/2 cannot carry as they came from HTTP/1.1, tunnels asked
 * of an HTTP/2 upstream, gRPC deadlines on HTTP/2 upstreams, the proxy's own resets, and what an
 * HTTP/2 client may not decide (its `:scheme`, a `Host` that contradicts `:authority`).
 */
import * as http from 'node:http';
import * as http2 from 'node:http2';
import * as net from 'node:net';
import { HttpPeer, type ProxyHttp } from '@pingora-ts/proxy';
import { h2connect, h2request } from './h2-client';
import { F, PREFACE, RawH2, T, frame, getBlock, settings } from './h2-frames';
import { MemoryLogger, Resources, rawExchange, startProxy, until } from './resources';

const res = new Resources();
afterEach(() => res.closeAll());

const app = (peer: HttpPeer): ProxyHttp<null> => ({ newCtx: () => null, upstreamPeer: () => peer });

async function h2Upstream(onStream: (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders) => void): Promise<string> {
  const server = res.track(http2.createServer());
  server.on('stream', onStream);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return `127.0.0.1:${(server.address() as net.AddressInfo).port}`;
}

test('a head with a repeated single-value field (Date twice) reaches an HTTP/2 client joined, after the body arrived later', async () => {
  const up = await res.httpServer((_req, r) => {
    r.writeHead(200, [
      ['date', 'Thu, 03 Dec 2026 10:00:00 GMT'],
      ['date', 'Thu, 03 Dec 2026 10:00:01 GMT'],
      ['content-type', 'text/plain'],
      ['x-many', 'a'],
      ['x-many', 'b'],
    ]);
    r.flushHeaders();
    setTimeout(() => r.end('late body'), 50); // the head goes out on its own, after flushHead
  });
  const { url } = await startProxy(res, app(new HttpPeer(up.address)));
  const s = h2connect(res, url);
  const r = await h2request(s, { ':path': '/twice' });
  expect(r.status).toBe(200);
  expect(r.body).toBe('late body');
  expect(r.headers.date).toBe('Thu, 03 Dec 2026 10:00:00 GMT, Thu, 03 Dec 2026 10:00:01 GMT');
  expect(r.headers['x-many']).toBe('a, b');
  // The connection, and the process, go on.
  expect((await h2request(s, { ':path': '/again' })).status).toBe(200);
});

test('request trailers HTTP/2 cannot carry (Proxy-Connection, TE) are dropped on the way to an h2 upstream, the rest arrive', async () => {
  let trailers: http2.IncomingHttpHeaders | null = null;
  const address = await h2Upstream((stream) => {
    stream.on('trailers', (t: http2.IncomingHttpHeaders) => (trailers = t));
    stream.resume();
    stream.on('end', () => {
      stream.respond({ ':status': 200 });
      stream.end('ok');
    });
  });
  const { port } = await startProxy(res, app(new HttpPeer(address, false, '', { alpn: 'h2' })));
  const out = await rawExchange(
    res,
    port,
    'POST /t HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n3\r\nabc\r\n0\r\nProxy-Connection: x\r\nTE: gzip\r\nX-Checksum: 42\r\n\r\n',
  );
  expect(out).toMatch(/^HTTP\/1\.1 200 /);
  expect(trailers).toMatchObject({ 'x-checksum': '42' });
  expect(trailers).not.toHaveProperty('proxy-connection');
  expect(trailers).not.toHaveProperty('te');
});

test('an Upgrade (WebSocket) request to an h2 peer is a 502 with a clear log line, not a plain GET upstream', async () => {
  let reached = 0;
  const address = await h2Upstream((stream) => {
    reached++;
    stream.respond({ ':status': 200 });
    stream.end();
  });
  const logger = new MemoryLogger();
  const { port } = await startProxy(res, app(new HttpPeer(address, false, '', { alpn: 'h2' })), { logger });
  const out = await rawExchange(
    res,
    port,
    'GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n',
  );
  expect(out).toMatch(/^HTTP\/1\.1 502 /);
  expect(reached).toBe(0);
  expect(JSON.stringify(logger.lines)).toContain('needs an HTTP/1.1 upstream');
});

test('grpc-timeout bounds the wait on an h2 upstream: the proxy itself answers grpc-status 4', async () => {
  const address = await h2Upstream((stream) => {
    stream.resume(); // reads the call, never answers
  });
  const { url } = await startProxy(res, app(new HttpPeer(address, false, '', { alpn: 'h2' })));
  const s = h2connect(res, url);
  const r = await h2request(s, { ':method': 'POST', ':path': '/pkg.Svc/Call', 'content-type': 'application/grpc', te: 'trailers', 'grpc-timeout': '200m' }, Buffer.from([0, 0, 0, 0, 0]));
  expect(r.status).toBe(200);
  expect(r.headers['grpc-status']).toBe('4');
});

test('resets the proxy sends itself (the upstream dropped each response) do not count as the client rapid-resetting', async () => {
  const up = await res.httpServer((req, r) => {
    r.writeHead(200, { 'content-length': '100' });
    r.write('partial');
    setTimeout(() => req.socket.destroy(), 5);
  });
  const { url } = await startProxy(res, app(new HttpPeer(up.address)), { http2: { maxResetsPerSecond: 20, maxConcurrentStreams: 128 } });
  const s = h2connect(res, url);
  let goaway = false;
  s.on('goaway', () => (goaway = true));
  const rs = await Promise.all(Array.from({ length: 60 }, (_, i) => h2request(s, { ':path': `/drop${i}` })));
  // Each head went out, then the proxy reset the stream; none was reset by the client.
  expect(rs.every((r) => r.status === 200 && r.rstCode === http2.constants.NGHTTP2_INTERNAL_ERROR)).toBe(true);
  expect(goaway).toBe(false);
  expect(s.closed).toBe(false);
});

test('an HTTP/2 client does not choose X-Forwarded-Proto with :scheme; a Host contradicting :authority is refused; CONNECT is 405', async () => {
  const seen: http.IncomingHttpHeaders[] = [];
  const up = await res.httpServer((req, r) => {
    seen.push(req.headers);
    r.end('ok');
  });
  const { url } = await startProxy(res, app(new HttpPeer(up.address)));
  const s = h2connect(res, url);
  const r = await h2request(s, { ':path': '/s', ':scheme': 'https', ':authority': 'a.test' });
  expect(r.status).toBe(200);
  expect(seen[0]?.['x-forwarded-proto']).toBe('http');
  expect(seen[0]?.host).toBe('a.test');

  const bad = await h2request(s, { ':path': '/h', ':authority': 'a.test', host: 'b.test' });
  expect(bad.rstCode).toBe(http2.constants.NGHTTP2_PROTOCOL_ERROR);
  expect(seen).toHaveLength(1);

  const connect = await h2request(s, { ':method': 'CONNECT', ':authority': 'a.test:443' });
  expect(connect.status).toBe(405);
});

test('a response that ends before the request body was read sends RST_STREAM(NO_ERROR) after it, freeing the stream', async () => {
  // The upstream answers at once without reading the upload (as a 413 or an auth refusal would).
  const up = await res.httpServer((_req, r) => r.end('early'));
  const { url, proxy } = await startProxy(res, app(new HttpPeer(up.address)));
  const s = h2connect(res, url);
  const req = s.request({ ':method': 'POST', ':path': '/upload' });
  req.write(Buffer.alloc(1000)); // the body never ends: the client would keep sending
  let status = 0;
  let body = '';
  req.on('response', (h) => (status = Number(h[':status'])));
  req.setEncoding('utf8');
  req.on('data', (d: string) => (body += d));
  req.on('error', () => {});
  await new Promise<void>((resolve) => req.on('close', () => resolve()));
  expect(status).toBe(200);
  expect(body).toBe('early');
  expect(req.rstCode).toBe(http2.constants.NGHTTP2_NO_ERROR);
  expect(proxy.stats().activeRequests).toBe(0);
});

test('a request whose HEADERS ended the stream (a GET) gets its response and no RST_STREAM after it', async () => {
  const up = await res.httpServer((_req, r) => r.end('ok'));
  const { port } = await startProxy(res, app(new HttpPeer(up.address)));
  const c = new RawH2(res, port);
  await c.connected();
  c.send(Buffer.concat([PREFACE, settings(), frame(T.HEADERS, F.END_HEADERS | F.END_STREAM, 1, getBlock('/a'))]));
  await until(() => c.dataBytes >= 2, 3000, 'the first response');
  // A second exchange on the connection: any RST_STREAM for stream 1 would have come before its answer.
  c.send(frame(T.HEADERS, F.END_HEADERS | F.END_STREAM, 3, getBlock('/b')));
  await until(() => c.dataBytes >= 4, 3000, 'the second response');
  expect(c.headers).toBe(2);
  expect([...c.resets]).toEqual([]);
});

test('requestTimeoutMs bounds an HTTP/2 request body too: a stalled upload gets 408, its upstream request is dropped, the connection serves on', async () => {
  let upstreamAborted = false;
  const up = await res.httpServer((req, r) => {
    req.on('data', () => {});
    req.on('end', () => r.end('whole'));
    req.on('close', () => (upstreamAborted = !req.complete));
  });
  const { url } = await startProxy(res, app(new HttpPeer(up.address)), { requestTimeoutMs: 300, headersTimeoutMs: 300 });
  const s = h2connect(res, url);
  const req = s.request({ ':method': 'POST', ':path': '/upload' });
  req.write(Buffer.alloc(1000)); // and never ends
  let status = 0;
  req.on('response', (h) => (status = Number(h[':status'])));
  req.on('data', () => {});
  req.on('error', () => {});
  await new Promise<void>((resolve) => req.on('close', () => resolve()));
  expect(status).toBe(408);
  await until(() => upstreamAborted, 3000, 'the upstream request to be dropped');
  const next = await h2request(s, { ':method': 'POST', ':path': '/upload' }, 'quick');
  expect(next.body).toBe('whole');
});
