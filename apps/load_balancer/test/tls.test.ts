import { execFile, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { Harness, lbConf } from './harness';

let h: Harness;
beforeEach(() => {
  h = new Harness();
});
afterEach(() => h.cleanup());

/** A self-signed certificate for `name` in the test's folder (openssl, as the README's users would). */
function cert(dir: string, name: string): { cert: string; key: string } {
  const base = join(dir, name);
  const r = spawnSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2',
    '-subj', `/CN=${name}`, '-addext', `subjectAltName=DNS:${name}`, '-keyout', `${base}.key`, '-out', `${base}.pem`], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`openssl: ${r.stderr}`);
  return { cert: `${base}.pem`, key: `${base}.key` };
}

function curl(args: string[]): Promise<string> {
  return new Promise((resolve, reject) =>
    execFile('curl', ['-sS', '--max-time', '5', ...args], (err, stdout, stderr) => (err ? reject(new Error(stderr)) : resolve(stdout))),
  );
}

test('a TLS listener proxies HTTPS, picking the certificate by SNI (curl)', async () => {
  const up = await h.upstream();
  const def = cert(h.dir, 'default.test');
  const api = cert(h.dir, 'api.example.test');
  const tls = `{ cert_path: ${def.cert}, key_path: ${def.key}, certs: [{ server_names: [api.example.test], cert_path: ${api.cert}, key_path: ${api.key} }] }`;
  const conf = lbConf(h.dir, [up.addr]).replace('      - addr: 127.0.0.1:0', `      - addr: 127.0.0.1:0\n        tls: ${tls}`);
  expect((await h.run(['-t', '-c', h.file('check.yaml', conf)])).code).toBe(0);
  const lb = await h.start(conf);
  const url = `https://api.example.test:${lb.port}/`;
  const resolve = `api.example.test:${lb.port}:127.0.0.1`;
  // Trusting only api's certificate proves SNI chose it.
  expect(await curl(['--resolve', resolve, '--cacert', api.cert, url])).toBe(`upstream ${up.port}`);
  await expect(curl(['--resolve', resolve, '--cacert', def.cert, url])).rejects.toThrow();
});

test('-t fails with one line naming the key when a TLS key does not match its certificate', async () => {
  const a = cert(h.dir, 'a.test');
  const b = cert(h.dir, 'b.test');
  const conf = lbConf(h.dir, ['127.0.0.1:1']).replace('      - addr: 127.0.0.1:0', `      - addr: 127.0.0.1:0\n        tls: { cert_path: ${a.cert}, key_path: ${b.key} }`);
  const r = await h.run(['-t', '-c', h.file('bad.yaml', conf)]);
  expect(r.code).toBe(1);
  expect(r.stderr.trim().split('\n')).toHaveLength(1);
  expect(r.stderr).toContain('services[0].listeners[0].tls.key_path');
});
