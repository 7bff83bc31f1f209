/**
 * The load balancer's logs: SIGUSR1 reopens the error and access logs (logrotate's
 * convention) in every process, losing no line; `access_log_format: combined`; `log_level`
 * and `LOG_LEVEL`.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { request } from 'undici';
import { logLevel } from '../src/log-level';
import { Harness, MAIN, lbConf, sleep } from './harness';

let h: Harness;
beforeEach(() => {
  h = new Harness();
});
afterEach(() => h.cleanup());

function lines(file: string): string[] {
  return existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter((l) => l !== '') : [];
}

/** One request on a new connection each time, so the kernel spreads them over the workers. */
async function get(url: string, headers: Record<string, string> = {}): Promise<number> {
  const res = await request(url, { reset: true, headers });
  await res.body.text();
  return res.statusCode;
}

async function until(check: () => boolean, what: string, ms = 10_000): Promise<void> {
  for (const end = Date.now() + ms; !check(); await sleep(25)) if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
}

test('threads: 2: SIGUSR1 to the primary reopens every process\'s error and access log; no access line is lost or split', async () => {
  const up = await h.upstream();
  const access = join(h.dir, 'access.log');
  const errors = join(h.dir, 'error.log');
  // With error_log set, "listening" is in the file, not on stderr: read the port there.
  const child = h.spawn(['-c', h.file('conf.yaml', lbConf(h.dir, [up.addr], `threads: 2\nerror_log: ${errors}`))]);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  let listening: string | undefined;
  await until(() => (listening = lines(errors).find((l) => l.includes('"msg":"listening"'))) !== undefined, 'the "listening" line', 20_000);
  const port = (JSON.parse(listening as string) as { addresses: { port: number }[] }).addresses[0]?.port;
  const lb = { url: `http://127.0.0.1:${port}`, child };
  const before = 40;
  for (let i = 0; i < before; i++) expect(await get(`${lb.url}/before/${i}`)).toBe(200);
  // Lines still in the workers' 200 ms batches at the moment of the rotation must land in one file or the other.
  renameSync(access, `${access}.1`);
  renameSync(errors, `${errors}.1`);
  process.kill(lb.child.pid as number, 'SIGUSR1');
  // The primary and both workers say so, in the new error log.
  await until(() => lines(errors).filter((l) => l.includes('"msg":"log files reopened"')).length >= 3, 'three "log files reopened" lines');
  const after = 40;
  for (let i = 0; i < after; i++) expect(await get(`${lb.url}/after/${i}`)).toBe(200);
  await until(() => lines(access).length >= after, 'the new access log');
  await sleep(300); // one more batch interval: anything late would show up now

  const old = lines(`${access}.1`).map((l) => JSON.parse(l) as { path: string });
  const now = lines(access).map((l) => JSON.parse(l) as { path: string });
  expect(old.length + now.length).toBe(before + after);
  expect(now.filter((l) => l.path.startsWith('/after/'))).toHaveLength(after);
  expect(old.filter((l) => l.path.startsWith('/after/'))).toHaveLength(0);
  // The old error log ends before the reopen; the new one has it from all three processes.
  expect(lines(`${errors}.1`).some((l) => l.includes('"msg":"log files reopened"'))).toBe(false);
  expect(new Set(lines(errors).filter((l) => l.includes('log files reopened')).map((l) => (JSON.parse(l) as { pid: number }).pid)).size).toBe(3);
  lb.child.kill('SIGTERM');
  expect(await exited).toBe(0);
});

test('access_log_format: combined writes nginx\'s combined line: client, time, request line, status, bytes, referer, user agent', async () => {
  const up = await h.upstream();
  const access = join(h.dir, 'access.log');
  const lb = await h.start(lbConf(h.dir, [up.addr], 'access_log_format: combined'));
  await get(`${lb.url}/a/b?c=1`, { referer: 'http://example.test/from', 'user-agent': 'test-agent/1.0 "quoted"' });
  await get(`${lb.url}/plain`);
  await until(() => lines(access).length >= 2, 'two access lines');
  const [a, b] = lines(access);
  expect(a).toMatch(/^127\.0\.0\.1 - - \[\d\d\/[A-Z][a-z]{2}\/\d{4}:\d\d:\d\d:\d\d [+-]\d{4}\] "GET \/a\/b\?c=1 HTTP\/1\.1" 200 \d+ "http:\/\/example\.test\/from" "test-agent\/1\.0 \\x22quoted\\x22"$/);
  expect(b).toMatch(/"GET \/plain HTTP\/1\.1" 200 \d+ "-" "[^"]+"$/);
  lb.child.kill('SIGTERM');
  await lb.exited;
});

test('log_level: debug in the config writes debug lines; an invalid value is a config error naming the key', async () => {
  const up = await h.upstream();
  const lb = await h.start(lbConf(h.dir, [up.addr], 'log_level: debug\nthreads: 2'));
  expect(lb.stderr()).toContain('"level":20'); // e.g. "worker ready"
  lb.child.kill('SIGTERM');
  await lb.exited;

  const bad = h.file('bad.yaml', lbConf(h.dir, [up.addr], 'log_level: verbose'));
  const r = await h.run(['-t', '-c', bad]);
  expect(r.code).toBe(1);
  expect(r.stderr).toMatch(/config error: .*bad\.yaml:\d+:\d+: log_level: /);
});

test('LOG_LEVEL: an invalid value is a config error naming LOG_LEVEL (also for -t)', async () => {
  const up = await h.upstream();
  const conf = h.file('conf.yaml', lbConf(h.dir, [up.addr]));
  const r = spawnSync(process.execPath, [MAIN, '-t', '-c', conf], { env: { ...process.env, LOG_LEVEL: 'loud' }, encoding: 'utf8', timeout: 15_000 });
  expect(r.status).toBe(1);
  expect(r.stderr).toContain('config error: <environment>: LOG_LEVEL: expected one of trace, debug, info, warn, error, fatal, silent, got "loud"');
});

test('LOG_LEVEL wins over log_level; either falls back to info', () => {
  expect(logLevel({ log_level: 'debug' }, { LOG_LEVEL: 'warn' })).toBe('warn');
  expect(logLevel({ log_level: 'debug' }, { LOG_LEVEL: 'ERROR' })).toBe('error');
  expect(logLevel({ log_level: 'debug' }, {})).toBe('debug');
  expect(logLevel({ log_level: 'debug' }, { LOG_LEVEL: '' })).toBe('debug');
  expect(logLevel({ log_level: undefined }, {})).toBe('info');
});
