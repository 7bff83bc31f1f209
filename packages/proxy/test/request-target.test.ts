/**
 * Request-target forms (RFC 9112 §3.2) and the X-Forwarded-* the upstream sees: one host, the
 * one the proxy routed on, whatever form the client used; `X-Forwarded-Proto` says how the
 * client came in.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tls from 'node:tls';
import { HttpPeer, type ProxyHttp } from '@pingora-ts/proxy';
import { DOWNSTREAMS, MemoryLogger, Resources, rawExchange, startProxy, useDownstream } from './resources';

const res = new Resources();
afterEach(() => res.closeAll());

interface Seen {
  url: string;
  host: string[];
  xfh: string | undefined;
  xfp: string | undefined;
}

/** An upstream that records what each request looked like, and a proxy in front of it. */
async function proxyRecording(opts: Parameters<typeof startProxy>[2] = {}): Promise<{ port: number; seen: Seen[]; pathsSeen: string[] }> {
  const seen: Seen[] = [];
  const pathsSeen: string[] = [];
  const up = await res.httpServer((req, r) => {
    const host: string[] = [];
    for (let i = 0; i < req.rawHeaders.length; i += 2) if (req.rawHeaders[i]?.toLowerCase() === 'host') host.push(req.rawHeaders[i + 1] as string);
    seen.push({ url: req.url as string, host, xfh: req.headers['x-forwarded-host'] as string, xfp: req.headers['x-forwarded-proto'] as string });
    r.end('ok');
  });
  const peer = new HttpPeer(up.address);
  const app: ProxyHttp<null> = {
    newCtx: () => null,
    upstreamPeer(session) {
      pathsSeen.push(`${session.path} ${session.headers.host ?? ''}`);
      return peer;
    },
  };
  const { port } = await startProxy(res, app, opts);
  return { port, seen, pathsSeen };
}

describe.each(DOWNSTREAMS)('%s downstream', (downstream) => {
  beforeEach(() => useDownstream(downstream));

  test('absolute-form: the target authority replaces Host, origin-form goes upstream, hooks see the same', async () => {
    const { port, seen, pathsSeen } = await proxyRecording();
    const reply = await rawExchange(res, port, 'GET http://a.example:8080/x/y?q=1#frag HTTP/1.1\r\nHost: b.example\r\nConnection: close\r\n\r\n');
    expect(reply).toMatch(/^HTTP\/1\.1 200 /);
    expect(seen).toEqual([{ url: '/x/y?q=1', host: ['a.example:8080'], xfh: 'a.example:8080', xfp: 'http' }]);
    expect(pathsSeen).toEqual(['/x/y?q=1 a.example:8080']);
  });

  test('absolute-form without a path is "/"; HTTP/1.0 without Host gains one; the scheme is case-insensitive', async () => {
    const { port, seen } = await proxyRecording();
    await rawExchange(res, port, 'GET HTTP://a.example HTTP/1.1\r\nHost: a.example\r\nConnection: close\r\n\r\n');
    await rawExchange(res, port, 'GET http://c.example?z HTTP/1.0\r\n\r\n');
    expect(seen.map((s) => [s.url, s.host])).toEqual([
      ['/', ['a.example']],
      ['/?z', ['c.example']],
    ]);
  });

  test('OPTIONS * is forwarded as asterisk-form', async () => {
    const { port, seen } = await proxyRecording();
    const reply = await rawExchange(res, port, 'OPTIONS * HTTP/1.1\r\nHost: a.example\r\nConnection: close\r\n\r\n');
    expect(reply).toMatch(/^HTTP\/1\.1 200 /);
    expect(seen.map((s) => s.url)).toEqual(['*']);
  });

  // llhttp itself refuses some forms (HPE_INVALID_URL); the head checks refuse the rest.
  test.each([
    ['asterisk-form outside OPTIONS', 'GET * HTTP/1.1', 'INVALID_REQUEST_TARGET'],
    ['authority-form outside CONNECT', 'GET a.example:443 HTTP/1.1', 'HPE_INVALID_URL'],
    ['a target without a leading slash', 'GET x/y HTTP/1.1', 'HPE_INVALID_URL'],
    ['another scheme', 'GET ftp://a.example/x HTTP/1.1', 'INVALID_REQUEST_TARGET'],
    ['userinfo in the authority', 'GET http://user:pw@a.example/x HTTP/1.1', 'INVALID_REQUEST_TARGET'],
    ['an empty authority', 'GET http:///x HTTP/1.1', 'INVALID_REQUEST_TARGET'],
  ])('%s: 400, logged, nothing goes upstream, the proxy keeps serving', async (_name, line, reason) => {
    const logger = new MemoryLogger();
    const { port, seen } = await proxyRecording({ logger });
    const reply = await rawExchange(res, port, `${line}\r\nHost: a.example\r\n\r\n`);
    expect(reply).toMatch(/^HTTP\/1\.1 400 Bad Request\r\nConnection: close\r\n/);
    expect(seen).toEqual([]);
    expect(logger.lines.some((l) => l.level === 'warn' && (l.obj as { reason?: string }).reason === reason)).toBe(true);
    expect(await rawExchange(res, port, 'GET /ok HTTP/1.1\r\nHost: a.example\r\nConnection: close\r\n\r\n')).toMatch(/^HTTP\/1\.1 200 /);
    expect(seen.map((s) => s.url)).toEqual(['/ok']);
  });

  test('X-Forwarded-Proto is https on a TLS listener (and http on a plain one)', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'proxy-xfp-'));
    res.defer(() => fs.rmSync(dir, { recursive: true, force: true }));
    const keyPath = path.join(dir, 'k.pem');
    const certPath = path.join(dir, 'c.pem');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1', '-subj', '/CN=proxy.test', '-keyout', keyPath, '-out', certPath], {
      stdio: 'ignore',
    });
    const { port, seen } = await proxyRecording({ listeners: [{ addr: '127.0.0.1:0', tls: { cert_path: certPath, key_path: keyPath } }] });
    const reply = await new Promise<string>((resolve, reject) => {
      const s = res.socket(tls.connect({ port, host: '127.0.0.1', rejectUnauthorized: false, servername: 'proxy.test' }));
      let out = '';
      s.on('data', (d: Buffer) => (out += d.toString('latin1')));
      s.on('error', reject);
      s.on('close', () => resolve(out));
      s.write('GET /s HTTP/1.1\r\nHost: proxy.test\r\nX-Forwarded-Proto: http\r\nConnection: close\r\n\r\n');
    });
    expect(reply).toMatch(/^HTTP\/1\.1 200 /);
    expect(seen).toEqual([{ url: '/s', host: ['proxy.test'], xfh: 'proxy.test', xfp: 'https' }]);
  });
});
