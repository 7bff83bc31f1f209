/**
 * `services[].cache` end to end: the load balancer process caches in front of a counting
 * origin, says so in `X-Cache-Status` and in the access log, answers PURGE from the allowlist,
 * and `-t` rejects a cache section that cannot work, naming the key.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { request } from 'undici';
import { Harness, lbConf, sleep } from './harness';

let h: Harness;
beforeEach(() => {
  h = new Harness();
});
afterEach(() => h.cleanup());

test('cache: { enabled: true } alone caches; the access log says HIT or MISS; PURGE from purge_allow', async () => {
  let hits = 0;
  const up = await h.upstream(0, (req, res) => {
    hits++;
    req.resume();
    res.writeHead(200, { 'cache-control': 'public, max-age=60', 'content-type': 'text/plain' });
    res.end(`origin ${req.url}`);
  });
  const conf = lbConf(h.dir, [up.addr]).replace('    upstreams:', '    cache:\n      enabled: true\n      purge_allow: [127.0.0.0/8]\n    upstreams:');
  const lb = await h.start(conf);
  const statuses: string[] = [];
  for (let i = 0; i < 5; i++) {
    const r = await request(`${lb.url}/doc`);
    expect(await r.body.text()).toBe('origin /doc');
    statuses.push(r.headers['x-cache-status'] as string);
  }
  expect(statuses).toEqual(['MISS', 'HIT', 'HIT', 'HIT', 'HIT']);
  expect(hits).toBe(1);
  const purge = await request(`${lb.url}/doc`, { method: 'PURGE' });
  expect(purge.statusCode).toBe(200);
  await purge.body.dump();
  const after = await request(`${lb.url}/doc`);
  expect(after.headers['x-cache-status']).toBe('MISS');
  await after.body.dump();
  expect(hits).toBe(2);
  // The access log is written in batches (at most 200 ms late).
  let lines: { path: string; method: string; cache?: string }[] = [];
  for (let i = 0; i < 50 && lines.length < 7; i++) {
    await sleep(100);
    lines = readFileSync(join(h.dir, 'access.log'), 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as (typeof lines)[number]);
  }
  expect(lines.map((l) => `${l.method} ${l.cache}`)).toEqual(['GET MISS', 'GET HIT', 'GET HIT', 'GET HIT', 'GET HIT', 'PURGE null', 'GET MISS']);
});

test('threads: 2: a PURGE served by one worker drops the key from every worker\'s cache', async () => {
  let version = 1;
  const up = await h.upstream(0, (req, res) => {
    req.resume();
    res.writeHead(200, { 'cache-control': 'public, max-age=600' });
    res.end(`v${version}`);
  });
  const conf = lbConf(h.dir, [up.addr], 'threads: 2').replace('    upstreams:', '    cache:\n      enabled: true\n      max_size_bytes: 1048576\n      purge_allow: [127.0.0.1]\n    upstreams:');
  const lb = await h.start(conf);
  // New connections spread over both workers: fill both caches.
  const ask = async (method = 'GET'): Promise<string> => {
    const r = await request(`${lb.url}/p`, { method: method as 'GET', reset: true });
    return `${r.statusCode} ${await r.body.text()}`;
  };
  for (let i = 0; i < 20; i++) expect(await ask()).toBe('200 v1');
  version = 2;
  expect(await ask('PURGE')).toMatch(/^200 /);
  await sleep(200); // the purge reaching the other worker through the primary
  const after = await Promise.all(Array.from({ length: 20 }, () => ask()));
  expect(after.every((r) => r === '200 v2')).toBe(true);
});

test('a service without cache sends no X-Cache-Status and logs no cache field', async () => {
  const up = await h.upstream();
  const lb = await h.start(lbConf(h.dir, [up.addr]));
  const r = await request(`${lb.url}/`);
  await r.body.dump();
  expect(r.headers['x-cache-status']).toBeUndefined();
  let text = '';
  for (let i = 0; i < 50 && text === ''; i++) {
    await sleep(100);
    text = readFileSync(join(h.dir, 'access.log'), 'utf8');
  }
  expect(text).not.toContain('"cache"');
});

test('-t rejects a cache section that cannot work, naming the key and the file', async () => {
  const cases: [string, string][] = [
    ['      enabled: true\n      key: $scheme$nope', 'services[0].cache.key'],
    ['      enabled: true\n      purge_allow: [10.0.0.0/33]', 'services[0].cache.purge_allow[0]'],
    ['      enabled: true\n      max_size_bytes: 1000\n      max_object_bytes: 2000', 'services[0].cache.max_object_bytes'],
    ['      enabled: true\n      lock_timout_ms: 5', 'lock_timout_ms'],
    ['      max_size_bytes: 1000', 'services[0].cache.enabled'],
  ];
  for (const [section, key] of cases) {
    const file = h.file('bad.yaml', lbConf(h.dir, ['127.0.0.1:1']).replace('    upstreams:', `    cache:\n${section}\n    upstreams:`));
    const out = await h.run(['-t', '-c', file]);
    expect(out.code).not.toBe(0);
    expect(out.stderr).toContain(key);
    expect(out.stderr).toContain('bad.yaml');
  }
  const ok = h.file('ok.yaml', lbConf(h.dir, ['127.0.0.1:1']).replace('    upstreams:', '    cache:\n      enabled: true\n      key: $host$uri$http_accept_encoding\n      status_header: X-Cache\n    upstreams:'));
  const good = await h.run(['-t', '-c', ok]);
  expect(good.code).toBe(0);
});
