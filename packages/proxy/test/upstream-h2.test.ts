/**
 * HTTP/2 upstreams (`PeerOptions.alpn`): an HTTP/1.1 client through the proxy to real
 * node:http2 servers, over h2c (prior knowledge) and TLS (ALPN), with bodies both ways, shared
 * sessions, stream limits, trailers both ways and their hooks, resets and GOAWAY, cancels, and
 * backends that do not speak HTTP/2.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as http2 from 'node:http2';
import * as https from 'node:https';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { HttpPeer, type PeerOptions, type ProxyHttp } from '@pingora-ts/proxy';
import { Pool } from 'undici';
import { DOWNSTREAMS, MemoryLogger, Resources, client, rawExchange, startProxy, until, useDownstream } from './resources';

const res = new Resources();
afterEach(() => res.closeAll());

let key = '';
let cert = '';
beforeAll(() => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'proxy-h2-'));
  try {
    execFileSync(
      'openssl',
      ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1', '-subj', '/CN=origin.test', '-addext', 'subjectAltName=DNS:origin.test', '-keyout', path.join(dir, 'k.pem'), '-out', path.join(dir, 'c.pem')],
      { stdio: 'ignore' },
    );
    key = fs.readFileSync(path.join(dir, 'k.pem'), 'utf8');
    cert = fs.readFileSync(path.join(dir, 'c.pem'), 'utf8');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

type StreamHandler = (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders) => void;

/** A node:http2 server (h2c, or TLS offering only h2) that counts its sessions. */
async function h2Server(handler: StreamHandler, opts: { tls?: boolean; settings?: http2.Settings } = {}) {
  const server = opts.tls === true ? http2.createSecureServer({ key, cert, settings: opts.settings }) : http2.createServer({ settings: opts.settings });
  const seen = { sessions: 0 };
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on('session', (s: http2.ServerHttp2Session) => {
    seen.sessions++;
    sessions.add(s);
    s.on('close', () => sessions.delete(s));
    s.on('error', () => {});
  });
  server.on('stream', (stream, headers) => {
    stream.on('error', () => {});
    handler(stream, headers);
  });
  res.track(server);
  res.defer(() => {
    for (const s of sessions) s.destroy();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, seen, address: `127.0.0.1:${(server.address() as AddressInfo).port}` };
}

/** Reads a server stream's whole body and its trailers. */
function readAll(stream: http2.ServerHttp2Stream): Promise<{ body: string; trailers: http2.IncomingHttpHeaders | null }> {
  return new Promise((resolve) => {
    let body = '';
    let trailers: http2.IncomingHttpHeaders | null = null;
    stream.on('trailers', (t: http2.IncomingHttpHeaders) => (trailers = t));
    stream.on('data', (d: Buffer) => (body += d.toString()));
    stream.on('end', () => resolve({ body, trailers }));
  });
}

function peerTo(address: string, options: Partial<PeerOptions>, tls = false): HttpPeer {
  return new HttpPeer(address, tls, tls ? 'origin.test' : '', { ...(tls ? { ca: cert, caKey: 'h2-test-ca' } : {}), ...options });
}

function app(peer: HttpPeer, extra: Partial<ProxyHttp<null>> = {}): ProxyHttp<null> {
  return { newCtx: () => null, upstreamPeer: () => peer, ...extra };
}

/** An HTTP/1.1 chunked request with trailers, sent raw; returns the raw response. */
function chunkedWithTrailers(port: number, pathName: string, extraHeaders = ''): Promise<string> {
  return rawExchange(
    res,
    port,
    `POST ${pathName} HTTP/1.1\r\nHost: app.test\r\nTE: trailers\r\nContent-Type: application/grpc\r\n${extraHeaders}Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n` +
      '5\r\nhello\r\n6\r\n world\r\n0\r\nX-Checksum: abc\r\nX-Other: 1\r\n\r\n',
  );
}

describe.each(DOWNSTREAMS)('%s downstream', (downstream) => {
  beforeEach(() => useDownstream(downstream));

  test('h2c: GET and POST with bodies; the h2 server sees :authority from Host and no hop-by-hop fields', async () => {
    let seenHeaders: http2.IncomingHttpHeaders = {};
    const up = await h2Server((stream, headers) => {
      seenHeaders = headers;
      void readAll(stream).then(({ body }) => {
        stream.respond({ ':status': 201, 'content-type': 'text/plain', 'x-up': 'yes' });
        stream.end(`${headers[':method']} ${headers[':path']} ${body.length}`);
      });
    });
    const { url, port, proxy } = await startProxy(res, app(peerTo(up.address, { alpn: 'h2' })));
    const get = await rawExchange(
      res,
      port,
      'GET /a?x=1 HTTP/1.1\r\nHost: app.test\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\nKeep-Alive: timeout=5\r\nProxy-Connection: keep-alive\r\nX-Listed: drop\r\nConnection: close, X-Listed\r\n\r\n',
    );
    expect(get).toMatch(/^HTTP\/1\.1 201 Created\r\n/);
    expect(get).toMatch(/\r\nx-up: yes\r\n/);
    expect(get).toMatch(/\r\nGET \/a\?x=1 0\r\n/);
    expect(seenHeaders[':authority']).toBe('app.test');
    expect(seenHeaders[':scheme']).toBe('http');
    expect(seenHeaders.host).toBeUndefined();
    expect(seenHeaders['keep-alive']).toBeUndefined();
    expect(seenHeaders['proxy-connection']).toBeUndefined();
    expect(seenHeaders['http2-settings']).toBeUndefined();
    expect(seenHeaders['x-listed']).toBeUndefined();
    expect(seenHeaders['x-forwarded-for']).toBe('127.0.0.1');
    const c = client(res, url);
    const big = Buffer.alloc(300_000, 'b');
    const post = await c.request({ path: '/p', method: 'POST', body: big });
    expect(await post.body.text()).toBe(`POST /p ${big.length}`);
    expect(up.seen.sessions).toBe(1);
    expect(proxy.stats().pool.h2).toMatchObject({ newSessions: 1, sessions: 1, streams: 2 });
  });

  test('trailers both ways: chunked request trailers reach the h2 upstream, its trailers reach the client', async () => {
    let got: { body: string; trailers: http2.IncomingHttpHeaders | null; te: unknown; ct: unknown } | null = null;
    const up = await h2Server((stream, headers) => {
      void readAll(stream).then(({ body, trailers }) => {
        got = { body, trailers, te: headers.te, ct: headers['content-type'] };
        stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
        stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0', 'grpc-message': 'ok' }));
        stream.end('reply');
      });
    });
    const { port } = await startProxy(res, app(peerTo(up.address, { alpn: 'h2' })));
    const reply = await chunkedWithTrailers(port, '/svc/Method');
    expect(got).toMatchObject({ body: 'hello world', te: 'trailers', ct: 'application/grpc', trailers: { 'x-checksum': 'abc', 'x-other': '1' } });
    expect(reply).toMatch(/^HTTP\/1\.1 200 /);
    expect(reply).toMatch(/transfer-encoding: chunked/i);
    expect(reply).toMatch(/\r\n0\r\ngrpc-status: 0\r\ngrpc-message: ok\r\n\r\n$/);
  });

  test('the trailer hooks change trailers in place, both ways (async too)', async () => {
    let upstreamTrailers: http2.IncomingHttpHeaders | null = null;
    const up = await h2Server((stream) => {
      void readAll(stream).then(({ trailers }) => {
        upstreamTrailers = trailers;
        stream.respond({ ':status': 200 }, { waitForTrailers: true });
        stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0', 'x-secret': 's' }));
        stream.end('r');
      });
    });
    const { port } = await startProxy(
      res,
      app(peerTo(up.address, { alpn: 'h2' }), {
        requestTrailerFilter: async (_s, trailers) => {
          trailers.remove('x-other');
          trailers.set('x-added', 'by-hook');
        },
        upstreamResponseTrailerFilter: (_s, trailers) => {
          trailers.remove('x-secret');
          trailers.append('x-proxy', 'seen');
        },
      }),
    );
    const reply = await chunkedWithTrailers(port, '/t');
    expect(upstreamTrailers).toMatchObject({ 'x-checksum': 'abc', 'x-added': 'by-hook' });
    expect((upstreamTrailers as unknown as Record<string, unknown>)['x-other']).toBeUndefined();
    expect(reply).toMatch(/\r\n0\r\ngrpc-status: 0\r\nx-proxy: seen\r\n\r\n$/);
  });
});

test('chunked HTTP/1.1 request trailers reach an HTTP/1.1 upstream', async () => {
  let trailers: string[] = [];
  const up = await res.httpServer((req, r) => {
    req.resume();
    req.on('end', () => {
      trailers = req.rawTrailers;
      r.end('ok');
    });
  });
  const { port } = await startProxy(res, app(new HttpPeer(up.address)));
  const reply = await chunkedWithTrailers(port, '/h1');
  expect(reply).toMatch(/^HTTP\/1\.1 200 /);
  expect(trailers).toEqual(['X-Checksum', 'abc', 'X-Other', '1']);
});

test('a trailer hook that throws fails the attempt through errorWhileProxy', async () => {
  const up = await h2Server((stream) => {
    stream.respond({ ':status': 200 }, { waitForTrailers: true });
    stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
    stream.end('body');
  });
  const seen: string[] = [];
  const { url } = await startProxy(
    res,
    app(peerTo(up.address, { alpn: 'h2' }), {
      upstreamResponseTrailerFilter: () => {
        throw new Error('trailer hook boom');
      },
      errorWhileProxy: (_p, _s, e) => {
        seen.push(e.message);
        return e;
      },
    }),
  );
  const r = await client(res, url).request({ path: '/', method: 'GET' });
  await expect(r.body.text()).rejects.toThrow(); // the head went out: the connection drops
  expect(seen).toEqual([expect.stringContaining('trailer hook boom')]);
});

test('many concurrent requests share one session; the pool counts sessions and streams', async () => {
  const up = await h2Server((stream, headers) => {
    setTimeout(() => {
      stream.respond({ ':status': 200 });
      stream.end(String(headers[':path']));
    }, 20);
  });
  const { url, proxy } = await startProxy(res, app(peerTo(up.address, { alpn: 'h2' })));
  const pool = new Pool(url, { connections: 20 });
  res.defer(() => pool.destroy());
  const bodies = await Promise.all(
    Array.from({ length: 40 }, async (_, i) => (await pool.request({ path: `/${i}`, method: 'GET' })).body.text()),
  );
  expect(bodies).toEqual(Array.from({ length: 40 }, (_, i) => `/${i}`));
  expect(up.seen.sessions).toBe(1);
  await until(() => proxy.stats().pool.h2.activeStreams === 0);
  expect(proxy.stats().pool.h2).toEqual({ newSessions: 1, sessions: 1, streams: 40, activeStreams: 0 });
});

test('another session opens when the peer allows only one or two streams at once', async () => {
  const held: Array<() => void> = [];
  const up = await h2Server(
    (stream, headers) => {
      held.push(() => {
        stream.respond({ ':status': 200 });
        stream.end(String(headers[':path']));
      });
    },
    { settings: { maxConcurrentStreams: 2 } },
  );
  const { url, proxy } = await startProxy(res, app(peerTo(up.address, { alpn: 'h2' })));
  const pool = new Pool(url, { connections: 5 });
  res.defer(() => pool.destroy());
  const pending = Array.from({ length: 5 }, (_, i) => pool.request({ path: `/${i}`, method: 'GET' }));
  await until(() => held.length === 5, 5000, 'five streams at the upstream');
  expect(up.seen.sessions).toBe(3); // 2 + 2 + 1
  for (const release of held) release();
  const bodies = await Promise.all(pending.map(async (p) => (await p).body.text()));
  expect(bodies.sort()).toEqual(['/0', '/1', '/2', '/3', '/4']);
  expect(proxy.stats().pool.h2.newSessions).toBe(3);
});

test('an upstream RST_STREAM is a 502 and the next request works on the same session', async () => {
  const up = await h2Server((stream, headers) => {
    if (headers[':path'] === '/reset') stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR);
    else {
      stream.respond({ ':status': 200 });
      stream.end('fine');
    }
  });
  const logger = new MemoryLogger();
  const { url, proxy } = await startProxy(res, app(peerTo(up.address, { alpn: 'h2' })), { logger });
  const c = client(res, url);
  const bad = await c.request({ path: '/reset', method: 'POST', body: 'x' });
  expect(bad.statusCode).toBe(502);
  await bad.body.text();
  expect(logger.lines.find((l) => l.msg === 'proxy request failed')?.obj.err).toMatch(/closed the stream before responding \(HTTP\/2 error code 2\)/);
  const ok = await client(res, url).request({ path: '/ok', method: 'GET' });
  expect(await ok.body.text()).toBe('fine');
  expect(proxy.stats().pool.h2.newSessions).toBe(1);
});

test('a session that dies mid-response is dropped; the next request opens a new session', async () => {
  const up = await h2Server((stream, headers) => {
    if (headers[':path'] === '/die') {
      stream.respond({ ':status': 200 });
      stream.write('partial');
      setImmediate(() => stream.session?.destroy()); // the connection drops without GOAWAY
    } else {
      stream.respond({ ':status': 200 });
      stream.end('fine');
    }
  });
  const { url, proxy } = await startProxy(res, app(peerTo(up.address, { alpn: 'h2' })));
  const c = client(res, url);
  const first = await c.request({ path: '/ok', method: 'GET' });
  expect(await first.body.text()).toBe('fine');
  const dying = await c.request({ path: '/die', method: 'GET' });
  await expect(dying.body.text()).rejects.toThrow(); // mid-body: the client connection drops
  await until(() => proxy.stats().pool.h2.sessions === 0, 3000, 'the dead session to be dropped');
  const again = await client(res, url).request({ path: '/ok', method: 'GET' });
  expect(await again.body.text()).toBe('fine');
  expect(proxy.stats().pool.h2).toMatchObject({ newSessions: 2, sessions: 1 });
  expect(up.seen.sessions).toBe(2);
});

test('an idle session is closed after the idle timeout', async () => {
  const up = await h2Server((stream) => {
    stream.respond({ ':status': 200 });
    stream.end('x');
  });
  const { url, proxy } = await startProxy(res, app(peerTo(up.address, { alpn: 'h2', idleTimeoutMs: 100 })));
  expect(await (await client(res, url).request({ path: '/', method: 'GET' })).body.text()).toBe('x');
  expect(proxy.stats().pool.h2.sessions).toBe(1);
  await until(() => proxy.stats().pool.h2.sessions === 0, 3000, 'the idle session to close');
});

test('REFUSED_STREAM and GOAWAY before processing are retried (RFC 9113 8.7)', async () => {
  let n = 0;
  const up = await h2Server((stream) => {
    n++;
    if (n === 1) stream.close(http2.constants.NGHTTP2_REFUSED_STREAM);
    else if (n === 2) stream.session?.goaway(http2.constants.NGHTTP2_NO_ERROR, (stream.id ?? 3) - 2); // not processed
    else {
      stream.respond({ ':status': 200 });
      stream.end(`served on try ${n}`);
    }
  });
  const { url, proxy } = await startProxy(res, app(peerTo(up.address, { alpn: 'h2' })));
  const r = await client(res, url).request({ path: '/', method: 'GET' });
  expect(r.statusCode).toBe(200);
  expect(await r.body.text()).toBe('served on try 3');
  expect(proxy.stats().pool.h2.newSessions).toBe(2); // the GOAWAY session is not used again
});

test('a POST refused before processing (REFUSED_STREAM) is sent again: never processed, safe whatever the method', async () => {
  let n = 0;
  const bodies: string[] = [];
  const up = await h2Server((stream) => {
    n++;
    if (n === 1) {
      stream.close(http2.constants.NGHTTP2_REFUSED_STREAM);
      return;
    }
    let body = '';
    stream.setEncoding('utf8');
    stream.on('data', (d: string) => (body += d));
    stream.on('end', () => {
      bodies.push(body);
      stream.respond({ ':status': 201 });
      stream.end(`created on try ${n}`);
    });
  });
  const { url } = await startProxy(res, app(peerTo(up.address, { alpn: 'h2' })));
  const r = await client(res, url).request({ path: '/orders', method: 'POST' });
  expect(r.statusCode).toBe(201);
  expect(await r.body.text()).toBe('created on try 2');
  expect(bodies).toEqual(['']);
});

test('a client that goes away cancels the upstream stream (RST_STREAM CANCEL)', async () => {
  let rstCode = -1;
  const up = await h2Server((stream) => {
    stream.on('close', () => (rstCode = stream.rstCode ?? -1));
    stream.respond({ ':status': 200, 'content-type': 'application/grpc' });
    stream.write('first part');
  });
  const { url, proxy } = await startProxy(res, app(peerTo(up.address, { alpn: 'h2' })));
  const c = client(res, url);
  const r = await c.request({ path: '/stream', method: 'GET' });
  expect(r.statusCode).toBe(200);
  await c.destroy();
  await until(() => rstCode !== -1, 3000, 'the upstream stream to close');
  expect(rstCode).toBe(http2.constants.NGHTTP2_CANCEL);
  await until(() => proxy.stats().pool.h2.activeStreams === 0);
});

test('h2h1 over TLS negotiates h2 with an h2 server and HTTP/1.1 with an HTTP/1.1-only server', async () => {
  const h2 = await h2Server(
    (stream) => {
      stream.respond({ ':status': 200 });
      stream.end(`h2 ${String((stream.session?.socket as { alpnProtocol?: string } | undefined)?.alpnProtocol)}`);
    },
    { tls: true },
  );
  const h1 = res.track(https.createServer({ key, cert }, (req, r) => r.end(`h1 ${req.httpVersion}`)));
  await new Promise<void>((r) => h1.listen(0, '127.0.0.1', r));
  const h1Address = `127.0.0.1:${(h1.address() as AddressInfo).port}`;
  const toH2 = peerTo(h2.address, { alpn: 'h2h1' }, true);
  const toH1 = peerTo(h1Address, { alpn: 'h2h1' }, true);
  const { url, proxy } = await startProxy(res, { newCtx: () => null, upstreamPeer: (s) => (s.path.startsWith('/h1') ? toH1 : toH2) });
  const c = client(res, url);
  for (let i = 0; i < 2; i++) {
    expect(await (await c.request({ path: '/h2', method: 'GET' })).body.text()).toBe('h2 h2');
    expect(await (await c.request({ path: '/h1', method: 'GET' })).body.text()).toBe('h1 1.1');
  }
  const stats = proxy.stats().pool;
  expect(stats.h2).toMatchObject({ newSessions: 1, streams: 2 });
  expect(stats).toMatchObject({ newConnections: 1, reusedConnections: 1 });
});

test('alpn h2 to a backend that speaks only HTTP/1.1 is a 502 with a clear log line (TLS and h2c)', async () => {
  const h1tls = res.track(https.createServer({ key, cert }, (_req, r) => r.end('h1')));
  await new Promise<void>((r) => h1tls.listen(0, '127.0.0.1', r));
  const plain = await res.httpServer((_req, r) => r.end('h1'));
  const tlsPeer = peerTo(`127.0.0.1:${(h1tls.address() as AddressInfo).port}`, { alpn: 'h2' }, true);
  const h2cPeer = peerTo(plain.address, { alpn: 'h2' });
  const logger = new MemoryLogger();
  const { url } = await startProxy(res, { newCtx: () => null, upstreamPeer: (s) => (s.path === '/tls' ? tlsPeer : h2cPeer) }, { logger, maxRetries: 0 });
  const c = client(res, url);
  for (const [p, pattern] of [
    ['/tls', /did not negotiate HTTP\/2 \(ALPN chose/],
    ['/h2c', /did not answer as HTTP\/2 \(h2c prior knowledge\)/],
  ] as const) {
    const r = await c.request({ path: p, method: 'GET' });
    expect(r.statusCode).toBe(502);
    await r.body.text();
    const line = logger.lines.filter((l) => l.msg === 'proxy request failed').pop();
    expect(line?.obj).toMatchObject({ kind: 'ConnectError', path: p, err: expect.stringMatching(pattern) });
  }
});

test('PeerOptions.alpn is checked, and the protocol is part of the pool key', () => {
  expect(() => new HttpPeer('127.0.0.1:1', false, '', { alpn: 'h3' as 'h2' })).toThrow(/PeerOptions\.alpn must be "h1", "h2" or "h2h1", got h3/);
  const keys = new Set(['h1', 'h2', 'h2h1'].map((alpn) => new HttpPeer('127.0.0.1:1', true, 'a.test', { alpn: alpn as 'h2' }).poolKey));
  expect(keys.size).toBe(3);
  expect(new HttpPeer('127.0.0.1:1', false, '', { alpn: 'h2h1' }).protocol).toBe('h1'); // no TLS: no ALPN to choose with
});

test('write timeout: an h2 upstream that never reads the request body fails the request with a WriteError', async () => {
  const up = await h2Server((stream) => stream.pause());
  const logger = new MemoryLogger();
  const { url } = await startProxy(res, app(peerTo(up.address, { alpn: 'h2', writeTimeoutMs: 150 })), { logger });
  const big = Buffer.alloc(16 * 1024 * 1024, 'u');
  const outcome = await client(res, url)
    .request({ path: '/up', method: 'POST', body: big })
    .then(async (r) => {
      await r.body.text();
      return r.statusCode;
    })
    .catch(() => 'the connection closed while the client was still sending');
  expect([502, 'the connection closed while the client was still sending']).toContain(outcome);
  await until(() => logger.lines.some((l) => l.msg === 'proxy request failed'));
  expect(logger.lines.find((l) => l.msg === 'proxy request failed')?.obj).toMatchObject({ kind: 'WriteError', err: expect.stringContaining('timed out') });
});

test('read timeout: an h2 upstream that never answers is a 504', async () => {
  const up = await h2Server(() => {});
  const { url } = await startProxy(res, app(peerTo(up.address, { alpn: 'h2', readTimeoutMs: 100 })));
  const r = await client(res, url).request({ path: '/', method: 'GET' });
  expect(r.statusCode).toBe(504);
  await r.body.text();
});

describe.each(DOWNSTREAMS)('backpressure through HTTP/2 flow control (%s downstream)', (downstream) => {
  beforeEach(() => useDownstream(downstream));

  const TOTAL = 64 * 1024 * 1024;
  const CHUNK = Buffer.alloc(64 * 1024, 'x');

  test('a client that does not read holds the h2 upstream back', async () => {
    let written = 0;
    const up = await h2Server((stream) => {
      stream.respond({ ':status': 200 });
      const pump = (): void => {
        while (written < TOTAL) {
          written += CHUNK.length;
          if (!stream.write(CHUNK)) {
            stream.once('drain', pump);
            return;
          }
        }
        stream.end();
      };
      pump();
    });
    const { url } = await startProxy(res, app(peerTo(up.address, { alpn: 'h2' })));
    const r = await client(res, url).request({ path: '/big', method: 'GET' });
    await new Promise((resolve) => setTimeout(resolve, 500)); // the client reads nothing meanwhile
    expect(written).toBeLessThan(TOTAL / 2);
    let got = 0;
    for await (const chunk of r.body) got += (chunk as Buffer).length;
    expect(got).toBe(TOTAL);
  });

  test('an h2 upstream that does not read holds the client upload back', async () => {
    let read = 0;
    let resume: () => void = () => {};
    const up = await h2Server((stream) => {
      stream.pause();
      resume = () => {
        stream.on('data', (d: Buffer) => (read += d.length));
        stream.on('end', () => {
          stream.respond({ ':status': 200 });
          stream.end(String(read));
        });
        stream.resume();
      };
    });
    const { url } = await startProxy(res, app(peerTo(up.address, { alpn: 'h2' })));
    let pulled = 0;
    async function* upload(): AsyncGenerator<Buffer> {
      while (pulled < TOTAL) {
        pulled += CHUNK.length;
        yield CHUNK;
      }
    }
    const pending = client(res, url).request({ path: '/up', method: 'POST', body: Readable.from(upload()) });
    await new Promise((resolve) => setTimeout(resolve, 500)); // the upstream reads nothing meanwhile
    expect(pulled).toBeGreaterThan(0);
    expect(pulled).toBeLessThan(TOTAL / 2);
    resume();
    const r = await pending;
    expect(await r.body.text()).toBe(String(TOTAL));
  });
});
