import { spawn } from 'node:child_process';
import type * as http from 'node:http';
import { Readable } from 'node:stream';
import { HttpPeer, type ProxyHttp } from '@pingora-ts/proxy';
import { DOWNSTREAMS, Resources, client, rawExchange, startProxy, useDownstream } from './resources';

const res = new Resources();
afterEach(() => res.closeAll());

const to = (address: string): ProxyHttp<null> => {
  const peer = new HttpPeer(address);
  return { newCtx: () => null, upstreamPeer: () => peer };
};

/** Runs curl with `args`, feeding `input` on stdin; resolves with stdout. */
function curl(args: string[], input?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('/usr/bin/curl', ['-sS', '--max-time', '10', ...args]);
    res.defer(() => child.kill());
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`curl exited ${code}: ${err}`))));
    if (input !== undefined) child.stdin.end(input);
    else child.stdin.end();
  });
}

function headerMap(raw: string[]): Record<string, string[]> {
  const m: Record<string, string[]> = {};
  for (let i = 0; i < raw.length; i += 2) (m[(raw[i] as string).toLowerCase()] ??= []).push(raw[i + 1] as string);
  return m;
}

describe.each(DOWNSTREAMS)('%s downstream', (downstream) => {
  beforeEach(() => useDownstream(downstream));

  test('request: hop-by-hop headers removed, X-Forwarded-* added, Host unchanged', async () => {
    let seen: string[] = [];
    const up = await res.httpServer((req, r) => {
      seen = req.rawHeaders;
      r.end('ok');
    });
    const { port } = await startProxy(res, to(up.address));
    const reply = await rawExchange(
      res,
      port,
      'GET /p?q=1 HTTP/1.1\r\n' +
        'Host: app.example:8080\r\n' +
        'Connection: close, X-Conn-Listed\r\n' +
        'X-Conn-Listed: drop me\r\n' +
        'Keep-Alive: timeout=5\r\n' +
        'Proxy-Connection: keep-alive\r\n' +
        'TE: gzip, trailers\r\n' +
        'Trailer: X-T\r\n' +
        'Upgrade: h2c\r\n' +
        'Proxy-Authorization: Basic Zm9vOmJhcg==\r\n' +
        'X-Forwarded-For: 203.0.113.7\r\n' +
        'X-Forwarded-Proto: https\r\n' +
        'X-Forwarded-Host: spoofed\r\n' +
        'X-Kept: yes\r\n' +
        '\r\n',
    );
    expect(reply).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    const h = headerMap(seen);
    for (const hop of ['x-conn-listed', 'keep-alive', 'proxy-connection', 'trailer', 'upgrade', 'proxy-authorization', 'transfer-encoding']) {
      expect([hop, h[hop]]).toEqual([hop, undefined]);
    }
    // TE passes only as "trailers" (trailers are forwarded), listed in Connection as a sender of TE must.
    expect(h.te).toEqual(['trailers']);
    expect(h.connection).toEqual(['te']);
    expect(h.host).toEqual(['app.example:8080']);
    expect(h['x-forwarded-for']).toEqual(['203.0.113.7, 127.0.0.1']);
    expect(h['x-forwarded-proto']).toEqual(['http']);
    expect(h['x-forwarded-host']).toEqual(['app.example:8080']);
    expect(h['x-kept']).toEqual(['yes']);
  });

  test('request: TE: trailers listed in Connection (as an HTTP/1.1 client must) still reaches the upstream', async () => {
    let seen: string[] = [];
    const up = await res.httpServer((req, r) => {
      seen = req.rawHeaders;
      r.end('ok');
    });
    const { port } = await startProxy(res, to(up.address));
    const reply = await rawExchange(res, port, 'GET / HTTP/1.1\r\nHost: a\r\nTE: trailers\r\nConnection: TE, close\r\n\r\n');
    expect(reply).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    const h = headerMap(seen);
    expect(h.te).toEqual(['trailers']);
    expect(h.connection).toEqual(['te']);
  });

  test('response: hop-by-hop headers removed, end-to-end ones kept', async () => {
    const up = await res.netServer((s) =>
      s.once('data', () =>
        s.write(
          'HTTP/1.1 200 OK\r\n' +
            'Connection: keep-alive, X-Resp-Hop\r\n' +
            'X-Resp-Hop: 1\r\n' +
            'Keep-Alive: timeout=5\r\n' +
            'Proxy-Authenticate: Basic\r\n' +
            'Trailer: X-T\r\n' +
            'Upgrade: h2c\r\n' +
            'X-Kept: yes\r\n' +
            'Content-Length: 2\r\n' +
            '\r\nok',
        ),
      ),
    );
    const { url } = await startProxy(res, to(up.address));
    const r = await client(res, url).request({ path: '/', method: 'GET' });
    expect(await r.body.text()).toBe('ok');
    expect(r.headers['x-kept']).toBe('yes');
    expect(r.headers['content-length']).toBe('2');
    for (const hop of ['x-resp-hop', 'proxy-authenticate', 'trailer', 'upgrade']) expect([hop, r.headers[hop]]).toEqual([hop, undefined]);
    expect(r.headers['keep-alive']).not.toBe('timeout=5'); // node:http's own value for our connection
  });

  test('chunked request and chunked response (undici)', async () => {
    let upstreamReq: { te?: string; cl?: string; body: string } = { body: '' };
    const up = await res.httpServer((req, r) => {
      upstreamReq = { te: req.headers['transfer-encoding'], cl: req.headers['content-length'], body: '' };
      req.setEncoding('utf8');
      req.on('data', (d: string) => (upstreamReq.body += d));
      req.on('end', () => {
        r.write('part1-');
        setTimeout(() => r.end('part2'), 5);
      });
    });
    const { url } = await startProxy(res, to(up.address));
    const r = await client(res, url).request({ path: '/', method: 'POST', body: Readable.from(['a', 'bb', 'ccc']) });
    expect(r.headers['transfer-encoding']).toBe('chunked');
    expect(await r.body.text()).toBe('part1-part2');
    expect(upstreamReq).toEqual({ te: 'chunked', cl: undefined, body: 'abbccc' });
  });

  test('chunked request from curl, response with Content-Length', async () => {
    let got = { te: '', body: '' };
    const up = await res.httpServer((req, r) => {
      let body = '';
      req.on('data', (d: Buffer) => (body += d.toString()));
      req.on('end', () => {
        got = { te: req.headers['transfer-encoding'] ?? '', body };
        r.setHeader('content-length', body.length);
        r.end(body);
      });
    });
    const { url } = await startProxy(res, to(up.address));
    const out = await curl(['-i', '-X', 'POST', '-H', 'Transfer-Encoding: chunked', '--data-binary', '@-', `${url}/upload`], 'streamed-by-curl');
    expect(got).toEqual({ te: 'chunked', body: 'streamed-by-curl' });
    expect(out).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(out).toMatch(/\r\ncontent-length: 16\r\n/i);
    expect(out.endsWith('\r\n\r\nstreamed-by-curl')).toBe(true);
  });

  test('Content-Length request body passes with its length', async () => {
    let seen: http.IncomingHttpHeaders = {};
    const up = await res.httpServer((req, r) => {
      seen = req.headers;
      req.resume();
      req.on('end', () => r.end('done'));
    });
    const { url } = await startProxy(res, to(up.address));
    const r = await client(res, url).request({ path: '/', method: 'PUT', body: Buffer.from('0123456789') });
    expect(await r.body.text()).toBe('done');
    expect(seen['content-length']).toBe('10');
    expect(seen['transfer-encoding']).toBeUndefined();
  });

  test('HEAD: no body, Content-Length kept, the connection stays usable', async () => {
    const up = await res.httpServer((req, r) => {
      r.setHeader('content-length', 1234);
      r.setHeader('content-type', 'application/octet-stream');
      if (req.method === 'HEAD') r.end();
      else r.end(Buffer.alloc(1234, 97));
    });
    const { url } = await startProxy(res, to(up.address));
    const c = client(res, url);
    const head = await c.request({ path: '/file', method: 'HEAD' });
    expect(head.statusCode).toBe(200);
    expect(head.headers['content-length']).toBe('1234');
    expect(await head.body.text()).toBe('');
    const get = await c.request({ path: '/file', method: 'GET' });
    expect((await get.body.arrayBuffer()).byteLength).toBe(1234);
    const curlHead = await curl(['-I', `${url}/file`]);
    expect(curlHead).toMatch(/\r\ncontent-length: 1234\r\n/i);
  });

  test('downstream Connection: close is honoured; the upstream connection stays pooled', async () => {
    const up = await res.httpServer((_req, r) => r.end('bye'));
    const { port, proxy } = await startProxy(res, to(up.address));
    const reply = await rawExchange(res, port, 'GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    expect(reply).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(reply).toMatch(/\r\nConnection: close\r\n/i);
    expect(reply.endsWith('\r\n\r\nbye')).toBe(true);
    expect(proxy.stats().pool).toMatchObject({ newConnections: 1, idleConnections: 1 });
  });

  test('204 and 304 from upstream pass without a body', async () => {
    const up = await res.httpServer((req, r) => {
      r.statusCode = req.url === '/nc' ? 204 : 304;
      r.setHeader('etag', '"v1"');
      r.end();
    });
    const { url } = await startProxy(res, to(up.address));
    const c = client(res, url);
    const a = await c.request({ path: '/nc', method: 'GET' });
    expect(a.statusCode).toBe(204);
    expect(await a.body.text()).toBe('');
    const b = await c.request({ path: '/nm', method: 'GET', headers: { 'if-none-match': '"v1"' } });
    expect(b.statusCode).toBe(304);
    expect(b.headers.etag).toBe('"v1"');
    expect(await b.body.text()).toBe('');
  });

  test('upstreamRequestFilter and responseFilter change what is sent', async () => {
    let seen = { method: '', url: '', hdr: '' as string | undefined };
    const up = await res.httpServer((req, r) => {
      seen = { method: req.method ?? '', url: req.url ?? '', hdr: req.headers['x-added'] as string | undefined };
      r.setHeader('x-upstream', 'secret');
      r.end('body');
    });
    const peer = new HttpPeer(up.address);
    const { url } = await startProxy(res, {
      newCtx: () => null,
      upstreamPeer: () => peer,
      upstreamRequestFilter: (_s, req) => {
        req.method = 'POST';
        req.path = '/rewritten' + req.path;
        req.headers.set('x-added', 'by-proxy');
      },
      responseFilter: (_s, resp) => {
        resp.headers.remove('x-upstream');
        resp.headers.set('x-served-by', 'pingora-ts');
        resp.status = 201;
      },
    } satisfies ProxyHttp<null>);
    const r = await client(res, url).request({ path: '/x', method: 'GET' });
    expect(r.statusCode).toBe(201);
    expect(r.headers['x-upstream']).toBeUndefined();
    expect(r.headers['x-served-by']).toBe('pingora-ts');
    expect(await r.body.text()).toBe('body');
    expect(seen).toEqual({ method: 'POST', url: '/rewritten/x', hdr: 'by-proxy' });
  });

  test('a response with both Transfer-Encoding and Content-Length is re-framed without the stale length', async () => {
    const up = await res.netServer((s) =>
      s.once('data', () => s.write('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n5\r\nhello\r\n0\r\n\r\n')),
    );
    const { url } = await startProxy(res, to(up.address));
    const r = await client(res, url).request({ path: '/', method: 'GET' });
    expect(r.headers['content-length']).toBeUndefined();
    expect(await r.body.text()).toBe('hello');
  });

  test('an upstream header value node:http refuses: 502', async () => {
    const up = await res.netServer((s) => s.once('data', () => s.write('HTTP/1.1 200 OK\r\nX-Bad: a\x01b\r\nContent-Length: 2\r\n\r\nok')));
    const { url } = await startProxy(res, to(up.address));
    const r = await client(res, url).request({ path: '/', method: 'GET' });
    expect(r.statusCode).toBe(502);
    await r.body.text();
  });
});
