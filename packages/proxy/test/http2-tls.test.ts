import { execFile, execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as http2 from 'node:http2';
import * as os from 'node:os';
import * as path from 'node:path';
import { HttpPeer } from '@pingora-ts/proxy';
import { Http2DownstreamSession } from '../src/downstream/http2-session';
import { DOWNSTREAMS, Resources, startProxy, useDownstream } from './resources';
import { h2connect, h2request } from './h2-client';

const res = new Resources();
afterEach(() => res.closeAll());

let dir = '';
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'proxy-h2-tls-'));
  execFileSync(
    'openssl',
    ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=proxy.test', '-addext', 'subjectAltName=DNS:proxy.test', '-keyout', path.join(dir, 'k.pem'), '-out', path.join(dir, 'c.pem')],
    { stdio: 'ignore' },
  );
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function curl(args: string[]): Promise<string> {
  return new Promise((resolve) => execFile('curl', ['-s', '--max-time', '5', ...args], (_err, stdout) => resolve(stdout)));
}

describe.each(DOWNSTREAMS)('%s downstream', (downstream) => {
  beforeEach(() => useDownstream(downstream));

  test('a TLS listener offers h2 and http/1.1 by ALPN: curl --http2 gets HTTP/2, curl --http1.1 gets 1.1, node:http2 over TLS works', async () => {
    const up = await res.httpServer((req, r) => r.end(`${req.method} ${req.url} ${String(req.headers['x-forwarded-proto'])} ${String(req.headers.host)}`));
    const peer = new HttpPeer(up.address);
    const tls = { cert_path: path.join(dir, 'c.pem'), key_path: path.join(dir, 'k.pem') };
    const { port } = await startProxy(res, { newCtx: () => null, upstreamPeer: () => peer }, { listeners: [{ addr: '127.0.0.1:0', tls }] });
    const url = `https://127.0.0.1:${port}`;
    expect(await curl(['--http2', '-k', '-w', ' %{http_version}', `${url}/a`])).toBe(`GET /a https 127.0.0.1:${port} 2`);
    expect(await curl(['--http1.1', '-k', '-w', ' %{http_version}', `${url}/b`])).toBe(`GET /b https 127.0.0.1:${port} 1.1`);
    const s = h2connect(res, url, { rejectUnauthorized: false, servername: 'proxy.test' });
    const r = await h2request(s, { ':path': '/c', ':authority': 'proxy.test' });
    expect(r.body).toBe('GET /c https proxy.test');
    expect(s.alpnProtocol).toBe('h2');
  });

  test('tls.alpn [http/1.1] narrows it: no h2 by ALPN', async () => {
    const up = await res.httpServer((req, r) => r.end('ok'));
    const peer = new HttpPeer(up.address);
    const tls = { cert_path: path.join(dir, 'c.pem'), key_path: path.join(dir, 'k.pem'), alpn: ['http/1.1'] };
    const { port } = await startProxy(res, { newCtx: () => null, upstreamPeer: () => peer }, { listeners: [{ addr: '127.0.0.1:0', tls }] });
    expect(await curl(['--http2', '-k', '-w', ' %{http_version}', `https://127.0.0.1:${port}/a`])).toBe('ok 1.1');
  });
});

test('the session hands request trailers to onBodyEnd, and sends response trailers after the body', async () => {
  const server = http2.createServer();
  const got: { chunks: string[]; trailers: readonly string[] | null } = { chunks: [], trailers: null };
  server.on('stream', (stream: http2.ServerHttp2Stream, _h: http2.IncomingHttpHeaders, _f: number, raw: string[]) => {
    const owner = { tls: false, remoteAddress: '127.0.0.1', remotePort: 1, blocked: () => {}, clientReset: () => {}, bodyPending: () => {}, requestTimeoutMs: 0 };
    const d = new Http2DownstreamSession(stream, raw, owner);
    d.setEvents({ onDownstreamDrain: () => {}, onDownstreamError: () => {} });
    d.readBody({
      onBodyChunk: (c) => got.chunks.push(c.toString()),
      onBodyEnd: (t) => {
        got.trailers = t;
        d.writeHead(200, '', ['Content-Type', 'application/grpc', 'Connection', 'keep-alive', 'Transfer-Encoding', 'chunked']);
        d.write(Buffer.from('body'));
        d.end(['grpc-status', '0', 'grpc-message', 'fine']);
      },
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  res.track(server as unknown as import('node:net').Server);
  const port = (server.address() as { port: number }).port;
  const s = h2connect(res, `http://127.0.0.1:${port}`);
  const r = await h2request(s, { ':method': 'POST', ':path': '/t', te: 'trailers' }, 'hello', { 'x-checksum': 'abc' });
  expect(got.chunks.join('')).toBe('hello');
  expect(got.trailers).toEqual(['x-checksum', 'abc']);
  expect(r.body).toBe('body');
  expect(r.headers.connection).toBeUndefined();
  expect(r.trailers?.['grpc-status']).toBe('0');
  expect(r.trailers?.['grpc-message']).toBe('fine');
});
