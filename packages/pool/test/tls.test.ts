import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as https from 'node:https';
import * as os from 'node:os';
import * as path from 'node:path';
import type { AddressInfo } from 'node:net';
import { ConnectionPool } from '@pingora-ts/pool';
import type { ProxyError } from '@pingora-ts/core';
import { Resources } from '../../../test-support/resources';

const res = new Resources();
afterEach(() => res.closeAll());

let key = '';
let cert = '';
beforeAll(() => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pool-tls-'));
  try {
    execFileSync('openssl', [
      'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=upstream.test',
      '-addext', 'subjectAltName=DNS:upstream.test',
      '-keyout', path.join(dir, 'key.pem'), '-out', path.join(dir, 'cert.pem'),
    ], { stdio: 'ignore' });
    key = fs.readFileSync(path.join(dir, 'key.pem'), 'utf8');
    cert = fs.readFileSync(path.join(dir, 'cert.pem'), 'utf8');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

async function tlsUpstream(): Promise<string> {
  const server = res.track(https.createServer({ key, cert }, (_req, r) => r.end('secure')));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return `127.0.0.1:${(server.address() as AddressInfo).port}`;
}

test('TLS peer with a trusted CA and SNI: requests reuse one connection', async () => {
  const address = await tlsUpstream();
  const pool = new ConnectionPool();
  res.defer(() => pool.destroy());
  const p = { address, tls: true, sni: 'upstream.test', ca: cert, caKey: 'test-ca' };
  for (let i = 0; i < 3; i++) expect((await pool.request(p)).body.toString()).toBe('secure');
  expect(pool.newConnections).toBe(1);
  expect(pool.reusedConnections).toBe(2);
});

test('TLS verification: untrusted certificate fails with ConnectError; verifyCert=false accepts it', async () => {
  const address = await tlsUpstream();
  const pool = new ConnectionPool();
  res.defer(() => pool.destroy());
  const err = (await pool.request({ address, tls: true, sni: 'upstream.test' }).catch((e: unknown) => e)) as ProxyError;
  expect(err.kind).toBe('ConnectError');
  const ok = await pool.request({ address, tls: true, sni: 'upstream.test', verifyCert: false });
  expect(ok.body.toString()).toBe('secure');
});

test('TLS handshake that never completes: ConnectTimedout', async () => {
  const silent = await res.netServer(() => {});
  const pool = new ConnectionPool({ connectTimeoutMs: 100 });
  res.defer(() => pool.destroy());
  const err = (await pool.acquire({ address: silent.address, tls: true, sni: 'x' }).catch((e: unknown) => e)) as ProxyError;
  expect(err.kind).toBe('ConnectTimedout');
});
