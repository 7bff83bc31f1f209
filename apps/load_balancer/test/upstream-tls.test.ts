/**
 * `upstreams.tls`: the load balancer in front of an HTTPS backend with a self-signed certificate
 * for `backend.test`, trusted through `ca_path`, sent as SNI, and refused when not trusted.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { request } from 'undici';
import { Harness, lbConf } from './harness';

let h: Harness;
let backend: Server | null = null;
beforeEach(() => {
  h = new Harness();
});
afterEach(async () => {
  backend?.closeAllConnections();
  await new Promise((resolve) => (backend ? backend.close(resolve) : resolve(undefined)));
  backend = null;
  await h.cleanup();
});

/** An HTTPS backend on 127.0.0.1 whose certificate names only `backend.test`; answers with the SNI it got. */
async function httpsBackend(dir: string): Promise<{ addr: string; cert: string }> {
  const base = join(dir, 'backend.test');
  const r = spawnSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2',
    '-subj', '/CN=backend.test', '-addext', 'subjectAltName=DNS:backend.test', '-keyout', `${base}.key`, '-out', `${base}.pem`], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`openssl: ${r.stderr}`);
  const server = createServer({ cert: readFileSync(`${base}.pem`), key: readFileSync(`${base}.key`) }, (req, res) => {
    req.resume();
    const sni = (req.socket as { servername?: string | false }).servername;
    res.end(`tls backend, sni ${String(sni)}`);
  });
  backend = server;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { addr: `127.0.0.1:${(server.address() as AddressInfo).port}`, cert: `${base}.pem` };
}

/** The test conf with `tls` under `upstreams`. */
const withTls = (conf: string, tls: string): string => `${conf}\n      tls: ${tls}\n`;

async function get(url: string): Promise<{ status: number; body: string }> {
  const r = await request(url);
  return { status: r.statusCode, body: await r.body.text() };
}

test('HTTPS backends: trusted through ca_path, SNI sent, refused (502) when the certificate is not trusted', async () => {
  const b = await httpsBackend(h.dir);

  const trusted = withTls(lbConf(h.dir, [b.addr]), `{ sni: backend.test, ca_path: ${b.cert} }`);
  expect((await h.run(['-t', '-c', h.file('trusted.yaml', trusted)])).code).toBe(0);
  const lb = await h.start(trusted);
  await expect(get(`${lb.url}/`)).resolves.toEqual({ status: 200, body: 'tls backend, sni backend.test' });
  lb.child.kill('SIGTERM');
  await lb.exited;

  // The system's CAs only: the self-signed certificate is refused, and the client gets a 502.
  const untrusted = await h.start(withTls(lbConf(h.dir, [b.addr]), '{ sni: backend.test }'));
  expect((await get(`${untrusted.url}/`)).status).toBe(502);
  untrusted.child.kill('SIGTERM');
  await untrusted.exited;

  // verify_cert: false (a test setup): served, with the SNI still sent.
  const unverified = await h.start(withTls(lbConf(h.dir, [b.addr]), '{ sni: backend.test, verify_cert: false }'));
  await expect(get(`${unverified.url}/`)).resolves.toEqual({ status: 200, body: 'tls backend, sni backend.test' });
});

test('-t names upstreams.tls.ca_path when the file is missing or not a certificate', async () => {
  const missing = withTls(lbConf(h.dir, ['127.0.0.1:1']), `{ ca_path: ${join(h.dir, 'nope.pem')} }`);
  const r1 = await h.run(['-t', '-c', h.file('missing.yaml', missing)]);
  expect(r1.code).toBe(1);
  expect(r1.stderr).toContain(`services[0].upstreams.tls.ca_path: cannot read ${join(h.dir, 'nope.pem')} (ENOENT: no such file or directory)`);

  const notPem = withTls(lbConf(h.dir, ['127.0.0.1:1']), `{ ca_path: ${h.file('junk.pem', 'not a certificate')} }`);
  const r2 = await h.run(['-t', '-c', h.file('junk.yaml', notPem)]);
  expect(r2.code).toBe(1);
  expect(r2.stderr.trim().split('\n')).toHaveLength(1);
  expect(r2.stderr).toContain('services[0].upstreams.tls.ca_path:');
  expect(r2.stderr).toContain('is not a PEM certificate');
});

test('ca_file (no ca_path): every TLS upstream trusts its CAs; -t names ca_file when it is missing', async () => {
  const b = await httpsBackend(h.dir);
  const conf = withTls(lbConf(h.dir, [b.addr], `ca_file: ${b.cert}`), '{ sni: backend.test }');
  expect((await h.run(['-t', '-c', h.file('ca-file.yaml', conf)])).code).toBe(0);
  const lb = await h.start(conf);
  await expect(get(`${lb.url}/`)).resolves.toEqual({ status: 200, body: 'tls backend, sni backend.test' });

  const missing = withTls(lbConf(h.dir, [b.addr], `ca_file: ${join(h.dir, 'nope.pem')}`), '{ sni: backend.test }');
  const r = await h.run(['-t', '-c', h.file('missing-ca-file.yaml', missing)]);
  expect(r.code).toBe(1);
  expect(r.stderr.trim().split('\n')).toHaveLength(1);
  expect(r.stderr).toContain(`ca_file: cannot read ${join(h.dir, 'nope.pem')} (ENOENT: no such file or directory)`);
});
