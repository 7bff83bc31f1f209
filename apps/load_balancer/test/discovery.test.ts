import { renameSync, writeFileSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import { join } from 'node:path';
import { request } from 'undici';
import { FakeDnsServer } from '../../../test-support/fake-dns-server';
import { Harness, sleep } from './harness';

let h: Harness;
let dns: FakeDnsServer | undefined;
beforeEach(() => {
  h = new Harness();
});
afterEach(async () => {
  await dns?.close();
  dns = undefined;
  await h.cleanup();
});

/** A config for one service on 127.0.0.1:0 whose upstreams are `upstreams` (YAML lines, indented by 6). */
function conf(upstreams: string[], extra = ''): string {
  return [
    `pid_file: ${join(h.dir, 'lb.pid')}`,
    `access_log: ${join(h.dir, 'access.log')}`,
    'graceful_shutdown_timeout_seconds: 5',
    extra,
    'services:',
    '  - name: web',
    '    listeners:',
    '      - addr: 127.0.0.1:0',
    '    upstreams:',
    ...upstreams.map((l) => `      ${l}`),
  ].join('\n');
}

/** One request on a new connection (with `threads`, the kernel spreads them over the workers). */
async function get(url: string): Promise<string> {
  const res = await request(url, { reset: true });
  return res.body.text();
}

/** Replaces the backends file by a rename, as a deploy tool should. */
function swap(path: string, text: string): void {
  writeFileSync(`${path}.tmp`, text);
  renameSync(`${path}.tmp`, path);
}

/** Sends requests until `n` in a row answer with `body`; throws after `timeoutMs`. */
async function until(url: string, body: string, n: number, timeoutMs = 15_000): Promise<void> {
  const start = Date.now();
  let streak = 0;
  while (streak < n) {
    if (Date.now() - start > timeoutMs) throw new Error(`no ${n} answers in a row from "${body}" within ${timeoutMs} ms`);
    streak = (await get(url)) === body ? streak + 1 : 0;
    if (streak === 0) await sleep(20);
  }
}

test('file discovery: a change is picked up, a broken file keeps the last list (logged), in-flight requests to a removed backend complete', async () => {
  let held: ServerResponse | null = null;
  // Holds the first /hold response open; the others answer at once.
  const slow = await h.upstream(0, (req, res) => {
    req.resume();
    if (req.url !== '/hold' || held !== null) return void res.end('slow');
    held = res;
    res.writeHead(200);
    res.write('slow part 1, ');
  });
  const a = await h.upstream();
  const file = join(h.dir, 'backends.yaml');
  swap(file, `- ${slow.addr}\n`);
  const lb = await h.start(conf([`discovery: { type: file, path: ${file}, interval_ms: 100 }`]));

  // The file was read before the listener opened: the first request finds the backend.
  expect(await get(lb.url)).toBe('slow');
  // A request in flight on the backend about to be removed.
  const inflight = request(`${lb.url}/hold`, { reset: true });
  // Generous bounds: a loaded CI machine runs other suites meanwhile; each loop ends as soon as it can.
  for (let i = 0; i < 1000 && held === null; i++) await sleep(10);
  expect(held).not.toBeNull();

  swap(file, `- addr: ${a.addr}\n  weight: 2\n`);
  await until(lb.url, `upstream ${a.port}`, 5);
  held!.end('part 2');
  const res = await inflight;
  expect(res.statusCode).toBe(200);
  expect(await res.body.text()).toBe('slow part 1, part 2');

  swap(file, `- ${a.addr}\n- addr: 127.0.0.1\n`);
  for (let i = 0; i < 500 && !lb.stderr().includes('backend 2: invalid backend address'); i++) await sleep(20);
  const line = lb.stderr().split('\n').find((l) => l.includes('backend 2: invalid backend address'));
  expect(line).toContain(`discovery file ${file}`);
  expect(line).toContain('discovery failed, keeping the current backends');
  for (let i = 0; i < 5; i++) expect(await get(lb.url)).toBe(`upstream ${a.port}`);
}, 60_000);

test('dns discovery (SRV): weights and ports from the records, refreshed by TTL', async () => {
  dns = await FakeDnsServer.start();
  const [a, b] = await Promise.all([h.upstream(), h.upstream()]);
  dns.set('_http._tcp.web.test', [
    { type: 'SRV', priority: 1, weight: 1, port: a.port, target: 'hosts.web.test', ttl: 0 },
    { type: 'SRV', priority: 1, weight: 3, port: b.port, target: 'hosts.web.test', ttl: 0 },
  ]);
  dns.set('hosts.web.test', [{ type: 'A', address: '127.0.0.1', ttl: 0 }]);
  const lb = await h.start(
    conf([`discovery: { type: dns, name: _http._tcp.web.test, srv: true, refresh_min_ms: 100, refresh_max_ms: 200, servers: ['${dns.server}'] }`]),
  );
  await until(lb.url, `upstream ${b.port}`, 1);
  const counts = new Map<string, number>();
  for (let i = 0; i < 40; i++) {
    const body = await get(lb.url);
    counts.set(body, (counts.get(body) ?? 0) + 1);
  }
  expect(counts.get(`upstream ${a.port}`)).toBe(10);
  expect(counts.get(`upstream ${b.port}`)).toBe(30);

  // A failing server keeps the last answer; the next good one replaces it.
  dns.failing = true;
  for (let i = 0; i < 100 && !lb.stderr().includes('SERVFAIL'); i++) await sleep(20);
  expect(lb.stderr()).toMatch(/DNS lookup of SRV _http\._tcp\.web\.test failed: .*SERVFAIL.*keeping the last answer/);
  expect(new Set([await get(lb.url), await get(lb.url), await get(lb.url), await get(lb.url)])).toEqual(
    new Set([`upstream ${a.port}`, `upstream ${b.port}`]),
  );
  dns.failing = false;
  dns.set('_http._tcp.web.test', [{ type: 'SRV', priority: 1, weight: 1, port: a.port, target: 'hosts.web.test', ttl: 0 }]);
  await until(lb.url, `upstream ${a.port}`, 10);
});

test('threads: 2: discovery runs once, in the primary, and its list reaches every worker', async () => {
  const [a, b] = await Promise.all([h.upstream(), h.upstream()]);
  const file = join(h.dir, 'backends.json');
  swap(file, JSON.stringify([a.addr]));
  const lb = await h.start(conf([`discovery: { type: file, path: ${file}, interval_ms: 100 }`], 'threads: 2'));
  await until(lb.url, `upstream ${a.port}`, 10);
  swap(file, JSON.stringify({ backends: [b.addr] }));
  await until(lb.url, `upstream ${b.port}`, 30);

  // Read by the primary alone: a broken file is logged once, not once per worker.
  swap(file, '["127.0.0.1:99999"]');
  const broken = (): string[] => lb.stderr().split('\n').filter((l) => l.includes('out of range'));
  for (let i = 0; i < 100 && broken().length === 0; i++) await sleep(20);
  await sleep(300);
  expect(broken()).toHaveLength(1);
  for (let i = 0; i < 10; i++) expect(await get(lb.url)).toBe(`upstream ${b.port}`);
});

test('-t names the discovery key and the valid values', async () => {
  const cases: Array<[string[], RegExp]> = [
    [['discovery: { type: consul }'], /services\[0\]\.upstreams\.discovery\.type: expected one of "static", "file", "dns", got "consul"/],
    [['discovery: { type: dns, name: api.test }'], /services\[0\]\.upstreams\.discovery\.port: missing required key/],
    [
      ['discovery: { type: file, path: x.yaml, name: api.test }'],
      /services\[0\]\.upstreams\.discovery\.name: not used with type file \(valid keys: type, new_backends_healthy, path, interval_ms\)/,
    ],
    [[`discovery: { type: file, path: ${join(h.dir, 'none.yaml')} }`], /services\[0\]\.upstreams\.discovery\.path: discovery file .*none\.yaml: cannot read it: ENOENT/],
    [['discovery: { type: dns, name: api.test, port: 80 }', 'backends: [127.0.0.1:1]'], /services\[0\]\.upstreams\.backends: not used with discovery type dns/],
    [['selection: random'], /services\[0\]\.upstreams\.backends: missing required key/],
  ];
  const results = await Promise.all(cases.map(([upstreams], i) => h.run(['-t', '-c', h.file(`t${i}.yaml`, conf(upstreams))])));
  results.forEach((r, i) => {
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(cases[i]![1]);
  });
});
