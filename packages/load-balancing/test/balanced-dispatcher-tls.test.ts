import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { LoadBalancer } from '@pingora-ts/load-balancing';
import { BalancedDispatcher } from '@pingora-ts/load-balancing/undici';
import { fetch, request } from 'undici';
import { RecordingObserver } from './helpers/recording-observer';

let key = '';
let cert = '';
beforeAll(() => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lb-undici-tls-'));
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

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  await Promise.all(cleanups.splice(0).map((c) => c()));
});

async function tlsBackend(): Promise<string> {
  const sockets = new Set<Socket>();
  const server = https.createServer({ key, cert }, (req, res) => res.end(`secure ${req.url}`));
  server.on('secureConnection', (s: Socket) => sockets.add(s));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => {
    for (const s of sockets) s.destroy();
    return new Promise((resolve) => server.close(resolve));
  });
  return `127.0.0.1:${(server.address() as AddressInfo).port}`;
}

describe('BalancedDispatcher over TLS', () => {
  it('sends https: requests over TLS to the selected backend, with the pools’ connect options', async () => {
    const addr = await tlsBackend();
    const lb = LoadBalancer.fromBackends([addr]);
    const d = new BalancedDispatcher({ loadBalancer: lb, connect: { ca: cert, servername: 'upstream.test' } });
    cleanups.push(() => d.destroy());
    const { body } = await request('https://service.invalid/a?b=1', { dispatcher: d });
    expect(await body.text()).toBe('secure /a?b=1');
    const res = await fetch('https://service.invalid/f', { dispatcher: d });
    expect(await res.text()).toBe('secure /f');
  });

  it('a failed TLS handshake is a connect_error', async () => {
    const addr = await tlsBackend();
    const lb = LoadBalancer.fromBackends([addr]);
    const seen = new RecordingObserver();
    lb.observers.push(seen);
    const d = new BalancedDispatcher({ loadBalancer: lb }); // the self-signed certificate is not trusted
    cleanups.push(() => d.destroy());
    await expect(request('https://service.invalid/', { dispatcher: d })).rejects.toThrow(/certificate/);
    expect(seen.endings()).toEqual([`${addr} connect_error`]);
  });
});
