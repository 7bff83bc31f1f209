import * as net from 'node:net';
import * as tls from 'node:tls';
import type { AddressInfo } from 'node:net';
import { ProxyError } from '@pingora-ts/core';
import { Backend, LoadBalancer, TlsHealthCheck } from '@pingora-ts/load-balancing';
import { Resources } from '../../../test-support/resources';
import { selfSignedCert } from './helpers/cert';

const res = new Resources();
afterEach(() => res.closeAll());

let key = '';
let cert = '';
beforeAll(() => ({ key, cert } = selfSignedCert()));

/** A TLS server on 127.0.0.1:0 that records the SNI of each handshake that sends one. */
async function tlsServer(opts: tls.TlsOptions = {}): Promise<{ server: tls.Server; addr: string; names: string[] }> {
  const names: string[] = [];
  const server = res.track(
    tls.createServer(
      {
        key,
        cert,
        SNICallback: (name, cb) => {
          names.push(name);
          cb(null, undefined);
        },
        ...opts,
      },
      (s) => {
        s.on('error', () => {});
        s.end();
      },
    ),
  );
  server.on('tlsClientError', () => {});
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, addr: `127.0.0.1:${(server.address() as AddressInfo).port}`, names };
}

async function failure(p: Promise<void>): Promise<ProxyError> {
  const err = await p.then(() => null, (e: unknown) => e);
  expect(ProxyError.isProxyError(err)).toBe(true);
  return err as ProxyError;
}

describe('TlsHealthCheck', () => {
  it('passes a handshake with a trusted certificate, checking the IP when there is no SNI', async () => {
    const s = await tlsServer();
    await new TlsHealthCheck({ ca: cert }).check(new Backend(s.addr));
    expect(s.names).toEqual([]); // an IP address is never sent as SNI
    await new TlsHealthCheck({ ca: cert, sni: 'backend.test' }).check(new Backend(s.addr));
    expect(s.names).toEqual(['backend.test']);
  });

  it('fails an untrusted certificate unless verify is off', async () => {
    const s = await tlsServer();
    const err = await failure(new TlsHealthCheck().check(new Backend(s.addr)));
    expect(err.kind).toBe('ConnectError');
    expect(err.message).toMatch(new RegExp(`^TLS handshake with ${s.addr} failed: .*self[- ]signed`, 'i'));
    await new TlsHealthCheck({ verify: false }).check(new Backend(s.addr));
  });

  it('fails a certificate that does not name the SNI', async () => {
    const s = await tlsServer();
    const err = await failure(new TlsHealthCheck({ ca: cert, sni: 'other.test' }).check(new Backend(s.addr)));
    expect(err.message).toMatch(/ERR_TLS_CERT_ALTNAME_INVALID|other\.test/);
  });

  it('with verifyHostname false, passes a trusted certificate naming another server but still fails an untrusted one', async () => {
    const s = await tlsServer();
    await new TlsHealthCheck({ ca: cert, sni: 'other.test', verifyHostname: false }).check(new Backend(s.addr));
    const err = await failure(new TlsHealthCheck({ sni: 'other.test', verifyHostname: false }).check(new Backend(s.addr)));
    expect(err.message).toMatch(/self[- ]signed/i);
  });

  it('with alpn, needs the backend to pick an offered protocol', async () => {
    const h2 = await tlsServer({ ALPNProtocols: ['h2', 'http/1.1'] });
    await new TlsHealthCheck({ ca: cert, alpn: ['h2'] }).check(new Backend(h2.addr));
    const none = await tlsServer();
    const err = await failure(new TlsHealthCheck({ ca: cert, alpn: ['h2'] }).check(new Backend(none.addr)));
    expect(err.message).toBe(`TLS handshake with ${none.addr}: no common ALPN protocol (offered h2, got none)`);
  });

  it('tells refused from a handshake that never completes', async () => {
    const port = await res.refusedPort();
    const refused = await failure(new TlsHealthCheck().check(new Backend(`127.0.0.1:${port}`)));
    expect([refused.kind, refused.context]).toEqual(['ConnectRefused', `127.0.0.1:${port}`]);
    expect(refused.message).toBe(`TCP connect to 127.0.0.1:${port} failed: connection refused`);

    const silent = await res.netServer((s) => s.on('error', () => {})); // accepts, never answers the ClientHello
    const err = await failure(new TlsHealthCheck({ timeoutMs: 150 }).check(new Backend(silent.address)));
    expect(err.kind).toBe('ConnectTimedout');
    expect(err.message).toBe(`TLS handshake with ${silent.address} timed out after 150 ms`);
  });

  it('validates its options', () => {
    expect(() => new TlsHealthCheck({ timeoutMs: 0 })).toThrow(/timeoutMs/);
    expect(() => new TlsHealthCheck({ consecutiveSuccess: 1.5 })).toThrow(/consecutiveSuccess/);
    expect(new TlsHealthCheck({ consecutiveFailure: 3 }).healthThreshold(false)).toBe(3);
  });

  it('takes a backend whose TLS breaks out of the rotation and back (plain TCP in between)', async () => {
    const good = await tlsServer();
    const port = Number(good.addr.split(':')[1]);
    const lb = LoadBalancer.fromBackends([good.addr], { healthCheck: new TlsHealthCheck({ ca: cert, timeoutMs: 300 }) });
    await lb.runHealthCheck();
    expect(lb.backends().ready(good.addr)).toBe(true);
    await res.closeAll();
    // The same port now speaks plain TCP and closes at once: the handshake fails.
    const plain = res.track(net.createServer((s) => s.destroy()));
    await new Promise<void>((r) => plain.listen(port, '127.0.0.1', r));
    await lb.runHealthCheck();
    expect(lb.backends().ready(good.addr)).toBe(false);
    await res.closeAll();
    const again = res.track(tls.createServer({ key, cert }, (s) => s.end()));
    again.on('tlsClientError', () => {});
    await new Promise<void>((r) => again.listen(port, '127.0.0.1', r));
    await lb.runHealthCheck();
    expect(lb.backends().ready(good.addr)).toBe(true);
  });
});
