import { execFile } from 'node:child_process';
import * as http from 'node:http';
import * as http2 from 'node:http2';
import * as net from 'node:net';
import { HttpPeer, HttpProxy } from '@pingora-ts/proxy';
import { DOWNSTREAMS, Resources, client, rawExchange, startProxy, until, useDownstream } from './resources';
import { h2connect, h2request } from './h2-client';

const res = new Resources();
afterEach(() => res.closeAll());

/** An HTTP/1.1 upstream that echoes what it got: method, url, headers, body. */
async function echoUpstream(): Promise<{ address: string; seen: Array<{ method: string; url: string; headers: http.IncomingHttpHeaders; body: string }> }> {
  const seen: Array<{ method: string; url: string; headers: http.IncomingHttpHeaders; body: string }> = [];
  const up = await res.httpServer((req, r) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (d: string) => (body += d));
    req.on('end', () => {
      seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
      if (req.url?.startsWith('/slow')) {
        setTimeout(() => r.end(`slow ${body}`), 300);
        return;
      }
      r.setHeader('x-up', 'yes');
      r.setHeader('set-cookie', ['a=1', 'b=2']);
      r.end(`${req.method} ${req.url} ${body}`);
    });
  });
  return { address: up.address, seen };
}

function curl(args: string[]): Promise<{ stdout: string; code: number }> {
  return new Promise((resolve) => {
    execFile('curl', ['-s', '--max-time', '5', ...args], (err, stdout) => resolve({ stdout, code: err === null ? 0 : ((err as { code?: number }).code ?? 1) }));
  });
}

describe.each(DOWNSTREAMS)('%s downstream', (downstream) => {
  beforeEach(() => useDownstream(downstream));

  test('h2c by prior knowledge: GET and POST with bodies reach an HTTP/1.1 upstream, :authority as Host, the response head mapped back', async () => {
    const up = await echoUpstream();
    const peer = new HttpPeer(up.address);
    const { url } = await startProxy(res, { newCtx: () => null, upstreamPeer: () => peer });
    const s = h2connect(res, url);
    const get = await h2request(s, { ':path': '/a?b=1', ':authority': 'example.test', cookie: ['x=1', 'y=2'] });
    expect(get.status).toBe(200);
    expect(get.body).toBe('GET /a?b=1 ');
    expect(get.headers['x-up']).toBe('yes');
    expect(get.headers['set-cookie']).toEqual(['a=1', 'b=2']);
    expect(get.headers.connection).toBeUndefined();
    const post = await h2request(s, { ':method': 'POST', ':path': '/p', 'content-length': '5' }, 'hello');
    expect(post.body).toBe('POST /p hello');
    // A body without Content-Length goes upstream chunked.
    const streamed = await h2request(s, { ':method': 'POST', ':path': '/q' }, Buffer.alloc(100_000, 'z'));
    expect(streamed.body).toBe(`POST /q ${'z'.repeat(100_000)}`);
    const head = await h2request(s, { ':method': 'HEAD', ':path': '/h' });
    expect(head.status).toBe(200);
    expect(head.body).toBe('');
    expect(up.seen[0]?.headers.host).toBe('example.test');
    expect(up.seen[0]?.headers.cookie).toBe('x=1; y=2');
    expect(up.seen[0]?.headers['x-forwarded-proto']).toBe('http');
    expect(up.seen[2]?.headers['transfer-encoding']).toBe('chunked');
  });

  test('many concurrent streams on one connection', async () => {
    const up = await echoUpstream();
    const peer = new HttpPeer(up.address);
    const { url, proxy } = await startProxy(res, { newCtx: () => null, upstreamPeer: () => peer });
    const s = h2connect(res, url);
    const all = await Promise.all(Array.from({ length: 50 }, (_, i) => h2request(s, { ':path': `/slow/${i}`, ':method': 'POST' }, `b${i}`)));
    all.forEach((r, i) => expect(r.body).toBe(`slow b${i}`));
    expect(proxy.stats().activeConnections).toBe(1);
  });

  test('flow control: a stream whose reader stalls holds only itself; another stream on the connection completes', async () => {
    const up = await res.httpServer((req, r) => r.end(req.url === '/big' ? Buffer.alloc(8 * 1024 * 1024, 'b') : 'small'));
    const peer = new HttpPeer(up.address);
    const { url } = await startProxy(res, { newCtx: () => null, upstreamPeer: () => peer });
    const s = h2connect(res, url);
    // The connection window is the client's to give: large, so only the stream's own window stalls.
    s.on('connect', () => s.setLocalWindowSize(32 * 1024 * 1024));
    const big = s.request({ ':path': '/big' }, { endStream: true });
    let got = 0;
    let paused = false;
    big.on('data', (d: Buffer) => {
      got += d.length;
      if (got > 100_000 && !paused) {
        paused = true;
        big.pause(); // stop reading: its window closes
      }
    });
    await until(() => got > 100_000, 3000, 'the big response to start');
    const small = await h2request(s, { ':path': '/small' });
    expect(small.body).toBe('small');
    expect(got).toBeLessThan(8 * 1024 * 1024);
    big.resume();
    await until(() => got === 8 * 1024 * 1024, 5000, 'the big response to finish');
    expect(got).toBe(8 * 1024 * 1024);
  });

  test('the same port answers HTTP/1.1 (undici), h2c (node:http2) and curl --http2-prior-knowledge', async () => {
    const up = await echoUpstream();
    const peer = new HttpPeer(up.address);
    const { url } = await startProxy(res, { newCtx: () => null, upstreamPeer: () => peer });
    const r1 = await client(res, url).request({ path: '/one', method: 'GET' });
    expect(await r1.body.text()).toBe('GET /one ');
    expect((await h2request(h2connect(res, url), { ':path': '/two' })).body).toBe('GET /two ');
    const c2 = await curl(['--http2-prior-knowledge', '-w', ' %{http_version}', `${url}/three`]);
    expect(c2.stdout).toBe('GET /three  2');
    const c1 = await curl(['-w', ' %{http_version}', `${url}/four`]);
    expect(c1.stdout).toBe('GET /four  1.1');
  });

  test('a preface split over several reads is still h2c', async () => {
    const up = await echoUpstream();
    const peer = new HttpPeer(up.address);
    const { port } = await startProxy(res, { newCtx: () => null, upstreamPeer: () => peer });
    // node:http2 over a socket that sends the first 5 bytes alone.
    const socket = res.socket(net.connect(port, '127.0.0.1'));
    await new Promise((r) => socket.once('connect', r));
    const write = socket.write.bind(socket) as (chunk: Buffer, cb?: (err?: Error | null) => void) => boolean;
    let first = true;
    (socket as unknown as { write: typeof write }).write = (chunk: Buffer, cb?: (err?: Error | null) => void): boolean => {
      if (first && Buffer.isBuffer(chunk) && chunk.length > 5) {
        first = false;
        write(chunk.subarray(0, 5));
        setTimeout(() => write(chunk.subarray(5), cb), 20);
        return true;
      }
      return write(chunk, cb);
    };
    const s = h2connect(res, `http://127.0.0.1:${port}`, { createConnection: () => socket });
    expect((await h2request(s, { ':path': '/split' })).body).toBe('GET /split ');
  });

  test('h2c: false: the preface is refused as HTTP/1.1 (400); Upgrade: h2c is served as HTTP/1.1 without the upgrade', async () => {
    const up = await echoUpstream();
    const peer = new HttpPeer(up.address);
    const { port, url } = await startProxy(res, { newCtx: () => null, upstreamPeer: () => peer }, { listeners: [{ addr: '127.0.0.1:0', h2c: false }] });
    const out = await rawExchange(res, port, 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');
    expect(out).toMatch(/^HTTP\/1\.1 400 /);
    // curl --http2 on http:// asks for `Upgrade: h2c` and gets HTTP/1.1.
    const r = await curl(['--http2', '-w', ' %{http_version}', `${url}/up`]);
    expect(r.stdout).toBe('GET /up  1.1');
    expect(up.seen[0]?.headers.upgrade).toBeUndefined();
    expect(up.seen[0]?.headers['http2-settings']).toBeUndefined();
  });

  test('graceful shutdown sends GOAWAY; the stream in flight completes', async () => {
    const up = await echoUpstream();
    const peer = new HttpPeer(up.address);
    const { url, proxy } = await startProxy(res, { newCtx: () => null, upstreamPeer: () => peer });
    const s = h2connect(res, url);
    let goaway = -1;
    s.on('goaway', (code) => (goaway = code));
    expect((await h2request(s, { ':path': '/warm' })).status).toBe(200);
    const slow = h2request(s, { ':path': '/slow', ':method': 'POST' }, 'in-flight');
    await until(() => up.seen.length === 2 || proxy.stats().activeRequests === 1, 3000, 'the slow request to start');
    const stopping = proxy.shutdown({ graceful: true, timeoutMs: 5000 });
    const r = await slow;
    expect(r.body).toBe('slow in-flight');
    await until(() => goaway === http2.constants.NGHTTP2_NO_ERROR, 3000, 'GOAWAY(NO_ERROR)');
    await stopping;
    expect(proxy.stats().activeConnections).toBe(0);
  });

  test('gRPC request with no upstream reachable: a trailers-only grpc-status 14, never a 502 page; grpc-timeout becomes the read deadline (grpc-status 4)', async () => {
    const refused = await res.refusedPort();
    const dead = new HttpPeer(`127.0.0.1:${refused}`);
    const { url } = await startProxy(res, { newCtx: () => null, upstreamPeer: () => dead }, { maxRetries: 0 });
    const s = h2connect(res, url);
    const r = await h2request(s, { ':method': 'POST', ':path': '/pkg.Svc/Call', 'content-type': 'application/grpc', te: 'trailers' }, Buffer.from([0, 0, 0, 0, 0]));
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toBe('application/grpc');
    expect(r.headers['grpc-status']).toBe('14');
    expect(String(r.headers['grpc-message'])).toContain('502');
    expect(r.body).toBe('');
    expect(r.trailers).toBeNull();
    // Not gRPC: the usual text answer.
    const plain = await h2request(s, { ':path': '/plain' });
    expect(plain.status).toBe(502);
    expect(plain.body).toBe('502 Bad Gateway\n');

    const hang = await res.httpServer(() => {}); // never answers
    const slowPeer = new HttpPeer(hang.address);
    const p2 = await startProxy(res, { newCtx: () => null, upstreamPeer: () => slowPeer }, { maxRetries: 0 });
    const s2 = h2connect(res, p2.url);
    const t = await h2request(s2, { ':method': 'POST', ':path': '/pkg.Svc/Slow', 'content-type': 'application/grpc+proto', 'grpc-timeout': '200m' }, Buffer.from([0, 0, 0, 0, 0]));
    expect(t.headers['grpc-status']).toBe('4');
  });
});

test('an unknown tls.alpn protocol is a config error naming the key', () => {
  expect(
    () => new HttpProxy('x', { newCtx: () => null, upstreamPeer: () => new HttpPeer('127.0.0.1:1') }, { listeners: [{ addr: '127.0.0.1:0', tls: { cert_path: '/c', key_path: '/k', alpn: ['h2', 'spdy/3'] } }] }),
  ).toThrow(/listeners\[0\]\.tls\.alpn\.1.*unknown ALPN protocol "spdy\/3"/);
});
