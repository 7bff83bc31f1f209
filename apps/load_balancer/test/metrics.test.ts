/**
 * Metrics across processes for real: the load balancer with `threads: 2` and `admin:`,
 * real upstreams, undici as client and scraper; a worker killed, a SIGHUP upgrade, -u + SIGQUIT.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { adminUrl, get } from './admin-client';
import { alive, Harness, lbConf, sleep } from './harness';

let h: Harness;
beforeEach(() => {
  h = new Harness();
});
afterEach(() => h.cleanup());

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


test('-u + SIGQUIT: the process started with -u starts from the old one\'s totals, no counter goes backwards', async () => {
  const a = await h.upstream();
  const port = await freePort();
  const sock = join(h.dir, 'upgrade.sock');
  const old = await h.start(lbConf(h.dir, [a.addr], `upgrade_sock: ${sock}\ngrace_period_seconds: 1\nadmin: { addr: "127.0.0.1:${port}" }`));
  const admin = await adminUrl(old);
  const N = 20;
  for (let i = 0; i < N; i++) expect((await get(old.url)).status).toBe(200);
  const before = counters((await get(`${admin}/metrics`)).text);
  expect(before.get(`pingora_ts_requests_total{service="web",status="200"}`)).toBe(N);

  const next = h.spawn(['-u', '-c', join(h.dir, 'conf.yaml')]);
  for (let i = 0; i < 100 && !existsSync(sock); i++) await sleep(50);
  old.child.kill('SIGQUIT');
  expect(await old.exited).toEqual({ code: 0, signal: null });
  // The new process binds the admin address once the old one let it go (it retries every second).
  let second: { status: number; text: string } | null = null;
  for (let i = 0; i < 100 && second === null; i++) {
    second = await get(`${admin}/metrics`).catch(() => null);
    if (second === null) await sleep(100);
  }
  expect(second?.status).toBe(200);
  const after = counters(second!.text);
  expect([...before].filter(([k, v]) => k.startsWith('pingora_ts_') && (after.get(k) ?? 0) < v)).toEqual([]);
  expect(requestsTotal(second!.text)).toBe(N);
  for (let i = 0; i < 5; i++) expect((await get(old.url)).status).toBe(200);
  expect(requestsTotal((await get(`${admin}/metrics`)).text)).toBe(N + 5);
  next.kill('SIGTERM');
});
