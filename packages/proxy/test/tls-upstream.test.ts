import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as https from 'node:https';
import * as os from 'node:os';
import * as path from 'node:path';
import type { AddressInfo } from 'node:net';
import { HttpPeer } from '@pingora-ts/proxy';
import { DOWNSTREAMS, Resources, client, startProxy, useDownstream } from './resources';

const res = new Resources();
afterEach(() => res.closeAll());

let key = '';
let cert = '';
beforeAll(() => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'proxy-tls-'));
  try {
    execFileSync(
      'openssl',
      ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=origin.test', '-addext', 'subjectAltName=DNS:origin.test', '-keyout', path.join(dir, 'k.pem'), '-out', path.join(dir, 'c.pem')],
      { stdio: 'ignore' },
    );
    key = fs.readFileSync(path.join(dir, 'k.pem'), 'utf8');
    cert = fs.readFileSync(path.join(dir, 'c.pem'), 'utf8');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

describe.each(DOWNSTREAMS)('%s downstream', (downstream) => {
  beforeEach(() => useDownstream(downstream));

  test('proxies to a TLS upstream with SNI and a private CA; connections are reused', async () => {
    let servername: string | undefined;
    const server = res.track(
      https.createServer({ key, cert }, (req, r) => {
        servername = (req.socket as import('node:tls').TLSSocket).servername || undefined;
        r.end(`tls ${req.url}`);
      }),
    );
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const address = `127.0.0.1:${(server.address() as AddressInfo).port}`;
    const good = new HttpPeer(address, true, 'origin.test', { ca: cert, caKey: 'test-ca' });
    const untrusted = new HttpPeer(address, true, 'origin.test');
    const { url, proxy } = await startProxy(res, {
      newCtx: () => null,
      upstreamPeer: (s) => (s.path === '/untrusted' ? untrusted : good),
    });
    const c = client(res, url);
    for (const p of ['/1', '/2']) expect(await (await c.request({ path: p, method: 'GET' })).body.text()).toBe(`tls ${p}`);
    expect(servername).toBe('origin.test');
    expect(proxy.stats().pool).toMatchObject({ newConnections: 1, reusedConnections: 1 });
    const bad = await c.request({ path: '/untrusted', method: 'GET' });
    expect(bad.statusCode).toBe(502);
    await bad.body.text();
  });
});
