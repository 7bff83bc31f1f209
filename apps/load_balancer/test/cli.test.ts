import { Harness, lbConf } from './harness';

let h: Harness;
beforeEach(() => {
  h = new Harness();
});
afterEach(() => h.cleanup());

test('-h prints the usage and exits 0', async () => {
  const r = await h.run(['-h']);
  expect(r.code).toBe(0);
  for (const flag of ['--conf', '--daemon', '--test', '--upgrade', '--version', '--help']) expect(r.stdout).toContain(flag);
});

test('-V prints the version', async () => {
  const r = await h.run(['-V']);
  expect(r.code).toBe(0);
  expect(r.stdout).toMatch(/^load_balancer \d+\.\d+\.\d+\n$/);
});

test('-t on a good file exits 0', async () => {
  const conf = h.file('good.yaml', lbConf(h.dir, ['127.0.0.1:1', '{ addr: 127.0.0.1:2, weight: 3 }']));
  const r = await h.run(['-t', '-c', conf]);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  expect(r.stdout).toContain('ok');
});

test('-t on the bundled example config exits 0', async () => {
  const r = await h.run(['-t', '-c', `${__dirname}/../conf/example.yaml`]);
  expect(r.code).toBe(0);
});

test('-t on a file with an unknown key exits 1 naming the key, the file and the closest key', async () => {
  const text = lbConf(h.dir, ['127.0.0.1:1']).replace('      backends:', '      bakends_x: 1\n      backends:');
  const conf = h.file('typo.yaml', text.replace('bakends_x', 'backendz'));
  const r = await h.run(['-t', '-c', conf]);
  expect(r.code).toBe(1);
  expect(r.stderr.trim().split('\n')).toHaveLength(1);
  expect(r.stderr).toContain(conf);
  expect(r.stderr).toContain('services[0].upstreams.backendz');
  expect(r.stderr).toContain('"backends"');
  expect(r.stderr).not.toMatch(/\n\s+at /);
});

test.each([
  ['a YAML syntax error', 'services: [\n  - name: web\n', /services|flow|expected|Missing/i],
  ['a wrong type', lbConf('/tmp', ['127.0.0.1:1'], 'threads: two'), /threads: expected an integer/],
  ['an out-of-range value', lbConf('/tmp', ['127.0.0.1:1'], 'threads: 0'), /threads/],
  ['no service', 'threads: 1\n', /services/],
  ['a bad max_connections', lbConf('/tmp', ['127.0.0.1:1']).replace('      backends:', '      max_connections: 0\n      backends:'), /bad\.yaml:\d+:\d+: services\[0\]\.upstreams\.max_connections: .*>=\s*1/],
  ['a misspelt max_connections', lbConf('/tmp', ['127.0.0.1:1']).replace('      backends:', '      max_connection: 8\n      backends:'), /services\[0\]\.upstreams\.max_connection: unknown key \(did you mean "max_connections"\?\)/],
  ['an unknown upstreams.alpn', lbConf('/tmp', ['127.0.0.1:1']).replace('      backends:', '      alpn: h3\n      backends:'), /services\[0\]\.upstreams\.alpn: .*"h1".*"h2".*"h2h1"/],
  ['a bad backend address', 'services:\n  - name: web\n    listeners: [{ addr: 127.0.0.1:0 }]\n    upstreams: { backends: [nohost] }\n', /services\[0\]\.upstreams\.backends\[0\]/],
])('malformed config (%s) exits 1 with one clear line, no stack trace', async (_what, text, expected) => {
  const conf = h.file('bad.yaml', text);
  for (const args of [['-t', '-c', conf], ['-c', conf]]) {
    const r = await h.run(args);
    expect(r.code).toBe(1);
    const lines = r.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain('bad.yaml');
    expect(lines[0]).toMatch(expected);
  }
});

test('a missing config file exits 1 with one line', async () => {
  const r = await h.run(['-c', `${h.dir}/nope.yaml`]);
  expect(r.code).toBe(1);
  expect(r.stderr.trim().split('\n')).toHaveLength(1);
  expect(r.stderr).toContain('nope.yaml');
});

test('an unknown flag exits 1 with the usage', async () => {
  const r = await h.run(['--bogus']);
  expect(r.code).toBe(1);
  expect(r.stderr).toContain('--bogus');
});
