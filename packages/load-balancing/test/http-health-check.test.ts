import * as https from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ProxyError } from '@pingora-ts/core';
import { Backend, HttpHealthCheck, LoadBalancer } from '@pingora-ts/load-balancing';
import { Resources } from '../../../test-support/resources';
import { selfSignedCert } from './helpers/cert';

const res = new Resources();
afterEach(() => res.closeAll());

interface Seen {
  method: string;
  url: string;
  host: string;
  connection: string;
  remotePort: number;
}

/** An HTTP server whose answer the test sets; records each request. */
async function backend(answer: (req: IncomingMessage, res: ServerResponse) => void = (_q, r) => r.end('ok')) {
  const seen: Seen[] = [];
  let handler = answer;
  const s = await res.httpServer((req, r) => {
    seen.push({ method: req.method ?? '', url: req.url ?? '', host: req.headers.host ?? '', connection: req.headers.connection ?? '', remotePort: req.socket.remotePort ?? 0 });
    handler(req, r);
  });
  return { addr: s.address, seen, set: (h: typeof answer) => (handler = h) };
}

async function failure(p: Promise<void>): Promise<ProxyError> {
  const err = await p.then(() => null, (e: unknown) => e);
  expect(ProxyError.isProxyError(err)).toBe(true);
  return err as ProxyError;
}

describe('HttpHealthCheck', () => {
  it('sends GET / with the backend as Host on a connection of its own each time', async () => {
    const b = await backend();
    const hc = new HttpHealthCheck();
    await hc.check(new Backend(b.addr));
    await hc.check(new Backend(b.addr));
    expect(b.seen.map((s) => [s.method, s.url, s.host, s.connection])).toEqual([
      ['GET', '/', b.addr, 'close'],
      ['GET', '/', b.addr, 'close'],
    ]);
    expect(b.seen[0]!.remotePort).not.toBe(b.seen[1]!.remotePort); // nothing reused
  });

  it('uses the method, path, host and headers given', async () => {
    const b = await backend((req, r) => r.end(req.headers['x-probe']));
    await new HttpHealthCheck({ method: 'head', path: '/healthz?deep=1', host: 'api.internal', headers: { 'x-probe': 'yes' } }).check(new Backend(b.addr));
    expect(b.seen[0]).toMatchObject({ method: 'HEAD', url: '/healthz?deep=1', host: 'api.internal' });
  });

  it('fails a status outside the range, and takes a list of statuses', async () => {
    const b = await backend((_q, r) => {
      r.statusCode = 503;
      r.end('down');
    });
    const err = await failure(new HttpHealthCheck().check(new Backend(b.addr)));
    expect([err.kind, err.status, err.context]).toEqual(['HTTPStatus', 503, b.addr]);
    expect(err.message).toBe(`HTTP health check of ${b.addr}: status 503 outside 200-399`);
    b.set((_q, r) => {
      r.statusCode = 204;
      r.end();
    });
    await new HttpHealthCheck({ expectStatus: [200, 204] }).check(new Backend(b.addr));
    const range = await failure(new HttpHealthCheck({ expectStatus: { min: 200, max: 200 } }).check(new Backend(b.addr)));
    expect(range.message).toMatch(/status 204 outside 200-200$/);
    const list = await failure(new HttpHealthCheck({ expectStatus: [200, 202] }).check(new Backend(b.addr)));
    expect(list.message).toMatch(/status 204 outside \[200, 202\]$/);
  });

  it('matches the body by substring or RegExp, reading at most maxBodyBytes', async () => {
    const b = await backend((_q, r) => r.end('{"status":"ready","pad":"' + 'x'.repeat(1000) + '"}'));
    await new HttpHealthCheck({ expectBody: '"ready"' }).check(new Backend(b.addr));
    await new HttpHealthCheck({ expectBody: /"status":"(ready|ok)"/ }).check(new Backend(b.addr));
    const err = await failure(new HttpHealthCheck({ expectBody: 'draining' }).check(new Backend(b.addr)));
    expect(err.kind).toBe('InvalidHTTPResponse');
    expect(err.message).toBe(`HTTP health check of ${b.addr}: body does not match "draining" (read 1027 bytes)`);
    // The closing brace lies beyond the bound: not seen.
    const bounded = await failure(new HttpHealthCheck({ expectBody: /"}$/, maxBodyBytes: 100 }).check(new Backend(b.addr)));
    expect(bounded.message).toMatch(/\(read 100 bytes\)$/);
  });

  it('stops reading an endless body at the bound', async () => {
    const b = await backend((_q, r) => {
      const t = setInterval(() => r.write('y'.repeat(1024)), 5);
      r.on('close', () => clearInterval(t));
    });
    const err = await failure(new HttpHealthCheck({ expectBody: 'never', maxBodyBytes: 4096, timeoutMs: 5000 }).check(new Backend(b.addr)));
    expect(err.message).toMatch(/\(read 4096 bytes\)$/);
  });

  it('says which step failed: refused, timed out waiting for the response, cut short', async () => {
    const port = await res.refusedPort();
    const refused = await failure(new HttpHealthCheck().check(new Backend(`127.0.0.1:${port}`)));
    expect(refused.kind).toBe('ConnectRefused');
    expect(refused.message).toBe(`HTTP health check of 127.0.0.1:${port} failed: connection refused`);

    const slow = await backend(() => {}); // never answers
    const timeout = await failure(new HttpHealthCheck({ timeoutMs: 150 }).check(new Backend(slow.addr)));
    expect(timeout.kind).toBe('ReadTimedout');
    expect(timeout.message).toBe(`HTTP health check of ${slow.addr} timed out after 150 ms waiting for the response`);

    const cut = await backend((req) => req.socket.destroy());
    const reset = await failure(new HttpHealthCheck().check(new Backend(cut.addr)));
    expect(reset.kind).toBe('InvalidHTTPResponse');
    expect(reset.message).toMatch(new RegExp(`^HTTP health check of ${cut.addr} failed waiting for the response: `));

    const garbage = await res.netServer((s) => s.end('SSH-2.0-OpenSSH\r\n'));
    const bad = await failure(new HttpHealthCheck().check(new Backend(garbage.address)));
    expect(bad.kind).toBe('InvalidHTTPResponse');
  });

  it('speaks HTTPS: SNI from host, verify with ca, a bad certificate fails', async () => {
    const { key, cert } = selfSignedCert();
    const names: string[] = [];
    const server = res.track(
      https.createServer({ key, cert, SNICallback: (n, cb) => (names.push(n), cb(null, undefined)) }, (_q, r) => r.end('secure ok')),
    );
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const addr = `127.0.0.1:${(server.address() as AddressInfo).port}`;
    await new HttpHealthCheck({ tls: true, ca: cert, host: 'backend.test', expectBody: 'secure' }).check(new Backend(addr));
    await new HttpHealthCheck({ tls: true, ca: cert }).check(new Backend(addr)); // IP: no SNI, the IP SAN is checked
    expect(names).toEqual(['backend.test']);
    const untrusted = await failure(new HttpHealthCheck({ tls: true }).check(new Backend(addr)));
    expect(untrusted.kind).toBe('ConnectError');
    expect(untrusted.message).toMatch(/self[- ]signed/i);
    await new HttpHealthCheck({ tls: true, verify: false }).check(new Backend(addr));
  });

  it('validates its options', () => {
    expect(() => new HttpHealthCheck({ path: 'health' })).toThrow(/path must start with "\/"/);
    expect(() => new HttpHealthCheck({ expectStatus: { min: 400, max: 200 } })).toThrow(/expectStatus/);
    expect(() => new HttpHealthCheck({ expectStatus: [] })).toThrow(/expectStatus/);
    expect(() => new HttpHealthCheck({ expectStatus: [700] })).toThrow(/expectStatus/);
    expect(() => new HttpHealthCheck({ maxBodyBytes: 0 })).toThrow(/maxBodyBytes/);
  });

  it('takes a backend out after consecutiveFailure 503s and back after consecutiveSuccess 200s', async () => {
    let status = 200;
    const b = await backend((_q, r) => {
      r.statusCode = status;
      r.end();
    });
    const other = await backend();
    const lb = LoadBalancer.fromBackends([b.addr, other.addr], { healthCheck: new HttpHealthCheck({ consecutiveFailure: 2, consecutiveSuccess: 2, path: '/health' }) });
    const events: string[] = [];
    lb.on('health', (be, healthy, error) => events.push(`${be.addr} ${healthy ? 'up' : `down: ${error?.message}`}`));
    await lb.runHealthCheck();
    status = 503;
    await lb.runHealthCheck();
    expect(lb.backends().ready(b.addr)).toBe(true);
    await lb.runHealthCheck();
    expect(lb.backends().ready(b.addr)).toBe(false);
    expect(lb.select('', 4)?.addr).toBe(other.addr);
    status = 200;
    await lb.runHealthCheck();
    await lb.runHealthCheck();
    expect(lb.backends().ready(b.addr)).toBe(true);
    expect(events).toEqual([`${b.addr} down: HTTP health check of ${b.addr}: status 503 outside 200-399`, `${b.addr} up`]);
  });
});
