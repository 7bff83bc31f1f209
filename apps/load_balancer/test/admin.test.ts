/**
 * The admin endpoint for real: the load balancer with `admin:` on 127.0.0.1:0, real
 * upstreams, undici as the client and the scraper.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { request } from 'undici';
import { alive, Harness, lbConf, sleep, type RunningLb } from './harness';

let h: Harness;
beforeEach(() => {
  h = new Harness();
});
afterEach(() => h.cleanup());

const TOKEN = 'a-token-of-twenty-chars';

/** Resolves the admin endpoint's URL once it logs that it listens. */
async function adminUrl(lb: RunningLb): Promise<string> {
  for (let i = 0; i < 500; i++) {
    const line = lb.stderr().split('\n').find((l) => l.includes('"msg":"admin listening"'));
    if (line) return `http://127.0.0.1:${(JSON.parse(line) as { port: number }).port}`;
    await sleep(20);
  }
  throw new Error(`the admin endpoint did not start: ${lb.stderr()}`);
}

async function get(url: string, token?: string): Promise<{ status: number; text: string }> {
  const res = await request(url, { reset: true, headers: token === undefined ? {} : { authorization: `Bearer ${token}` } });
  return { status: res.statusCode, text: await res.body.text() };
}

/** Every counter and histogram sample of a scrape, by its full name and labels. */
function counters(text: string): Map<string, number> {
  const types = new Map<string, string>();
  for (const m of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) types.set(m[1]!, m[2]!);
  const out = new Map<string, number>();
  for (const m of text.matchAll(/^([a-z_:][a-z0-9_:]*)(\{[^}]*\})? (\S+)$/gim)) {
    const name = m[1]!;
    const family = types.has(name) ? name : name.replace(/_(bucket|sum|count)$/, '');
    const type = types.get(family);
    if (type === 'counter' || type === 'histogram') out.set(`${name}${m[2] ?? ''}`, Number(m[3]));
  }
  return out;
}

function requestsTotal(text: string): number {
  let sum = 0;
  for (const m of text.matchAll(/^pingora_ts_requests_total\{[^}]*\} (\S+)$/gm)) sum += Number(m[1]);
  return sum;
}

test('threads: 2: one scrape sums both workers, and no counter goes backwards when a worker is killed and replaced', async () => {
  const a = await h.upstream();
  const b = await h.upstream();
  const lb = await h.start(lbConf(h.dir, [a.addr, b.addr], 'threads: 2\nadmin: { addr: "127.0.0.1:0" }'));
  const admin = await adminUrl(lb);
  const N = 40;
  // A new connection each time, so the kernel spreads them over the workers.
  for (let i = 0; i < N; i++) expect((await get(lb.url)).status).toBe(200);

  const first = await get(`${admin}/metrics`);
  expect(first.status).toBe(200);
  expect(requestsTotal(first.text)).toBe(N);
  expect(first.text).toContain(`pingora_ts_backend_healthy{service="web",backend="${a.addr}"} 1`);
  expect(first.text).toMatch(/^process_cpu_user_seconds_total /m);
  const before = counters(first.text);

  const workers = (JSON.parse(lb.stderr().split('\n').find((l) => l.includes('"msg":"workers listening"'))!) as { workers: number[] }).workers;
  expect(workers).toHaveLength(2);
  process.kill(workers[0]!, 'SIGKILL');
  for (let i = 0; i < 500 && !lb.stderr().includes('"msg":"worker replaced"'); i++) await sleep(20);
  expect(lb.stderr()).toContain('"msg":"worker replaced"');

  const second = await get(`${admin}/metrics`);
  const after = counters(second.text);
  const backwards = [...before].filter(([k, v]) => (after.get(k) ?? 0) < v);
  expect(backwards).toEqual([]);
  expect(requestsTotal(second.text)).toBe(N);

  for (let i = 0; i < 10; i++) expect((await get(lb.url)).status).toBe(200);
  expect(requestsTotal((await get(`${admin}/metrics`)).text)).toBe(N + 10);
});

test('/healthz and /readyz; /readyz says 503 with the reason once a service has no backend left', async () => {
  const a = await h.upstream();
  const conf = lbConf(h.dir, [a.addr], 'admin: { addr: "127.0.0.1:0" }').replace(
    '      backends:',
    '      health_check: { type: tcp, interval_ms: 100, consecutive_success: 1, consecutive_failure: 1 }\n      backends:',
  );
  const lb = await h.start(conf);
  const admin = await adminUrl(lb);
  expect(await get(`${admin}/healthz`)).toEqual({ status: 200, text: 'ok\n' });
  expect(await get(`${admin}/readyz`)).toEqual({ status: 200, text: 'ready\n' });
  expect((await get(`${admin}/nope`)).status).toBe(404);

  await h.kill(a);
  let ready = await get(`${admin}/readyz`);
  for (let i = 0; i < 100 && ready.status === 200; i++) {
    await sleep(50);
    ready = await get(`${admin}/readyz`);
  }
  expect(ready.status).toBe(503);
  expect(ready.text).toContain('service web: none of its 1 backends takes traffic');
  expect((await get(`${admin}/healthz`)).status).toBe(200);
  const metrics = await get(`${admin}/metrics`);
  expect(metrics.text).toContain(`pingora_ts_backend_healthy{service="web",backend="${a.addr}"} 0`);
});

test('with a token, a request without it or with a wrong one gets 401 and nothing else', async () => {
  const a = await h.upstream();
  const lb = await h.start(lbConf(h.dir, [a.addr], `admin: { addr: "127.0.0.1:0", token: ${TOKEN} }`));
  const admin = await adminUrl(lb);
  for (const token of [undefined, 'wrong-token-of-twenty-c', `${TOKEN}x`]) {
    for (const path of ['/metrics', '/healthz', '/readyz']) {
      const r = await get(`${admin}${path}`, token);
      expect(r).toEqual({ status: 401, text: 'unauthorized\n' });
    }
  }
  const ok = await get(`${admin}/metrics`, TOKEN);
  expect(ok.status).toBe(200);
  expect(ok.text).toContain('# TYPE pingora_ts_requests_total counter');
});

test('admin config is checked like the rest: a non-loopback addr needs a token, unknown keys are named', async () => {
  const cases: Array<[string, RegExp]> = [
    ['admin: { addr: "0.0.0.0:6190" }', /admin\.token: missing required key: admin\.addr 0\.0\.0\.0:6190 is not a loopback address/],
    ['admin: { addr: "127.0.0.1:6190", tokn: x }', /admin\.tokn: unknown key \(did you mean "token"\?\)/],
    ['admin: { addr: "localhost" }', /admin\.addr: expected "host:port"/],
    ['admin: { token: short }', /admin\.token: expected at least 16 characters/],
  ];
  for (const [extra, expected] of cases) {
    const conf = h.file('bad.yaml', lbConf(h.dir, ['127.0.0.1:1'], extra));
    const r = await h.run(['-t', '-c', conf]);
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain('bad.yaml');
    expect(r.stderr).toMatch(expected);
  }
  const good = h.file('good.yaml', lbConf(h.dir, ['127.0.0.1:1'], `admin: { addr: "0.0.0.0:6190", token: ${TOKEN} }`));
  expect((await h.run(['-t', '-c', good])).code).toBe(0);
});

/** A port free a moment ago (the admin endpoint of two generations must share a fixed one). */
async function freePort(): Promise<number> {
  const { createServer } = await import('node:net');
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const port = (s.address() as import('node:net').AddressInfo).port;
  await new Promise((resolve) => s.close(resolve));
  return port;
}

test('threads: 2 across a SIGHUP upgrade: the new generation starts from the old one\'s totals, no counter goes backwards', async () => {
  const a = await h.upstream();
  const port = await freePort();
  const lb = await h.start(lbConf(h.dir, [a.addr], `threads: 2\ngrace_period_seconds: 1\nadmin: { addr: "127.0.0.1:${port}" }`));
  const admin = await adminUrl(lb);
  const N = 30;
  for (let i = 0; i < N; i++) expect((await get(lb.url)).status).toBe(200);
  const first = await get(`${admin}/metrics`);
  expect(requestsTotal(first.text)).toBe(N);
  const before = counters(first.text);

  const pidFile = join(h.dir, 'lb.pid');
  let next = 0;
  try {
    lb.child.kill('SIGHUP');
    for (let i = 0; i < 300 && next === 0; i++) {
      const pid = Number(readFileSync(pidFile, 'utf8').trim());
      if (pid !== lb.child.pid && pid > 0) next = pid;
      else await sleep(50);
    }
    expect(next).toBeGreaterThan(0);
    expect(await lb.exited).toEqual({ code: 0, signal: null });
    // The new generation binds the admin address once the old one let it go (it retries every second).
    let second: { status: number; text: string } | null = null;
    for (let i = 0; i < 100 && second === null; i++) {
      second = await get(`${admin}/metrics`).catch(() => null);
      if (second === null) await sleep(100);
    }
    expect(second?.status).toBe(200);
    const after = counters(second!.text);
    expect([...before].filter(([k, v]) => k.startsWith('pingora_ts_') && (after.get(k) ?? 0) < v)).toEqual([]);
    expect(requestsTotal(second!.text)).toBe(N);
    for (let i = 0; i < 10; i++) expect((await get(lb.url)).status).toBe(200);
    expect(requestsTotal((await get(`${admin}/metrics`)).text)).toBe(N + 10);
  } finally {
    if (next > 0) {
      process.kill(next, 'SIGTERM');
      for (let i = 0; i < 100 && alive(next); i++) await sleep(50);
      if (alive(next)) process.kill(next, 'SIGKILL');
    }
  }
});
