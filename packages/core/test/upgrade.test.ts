/**
 * Zero-downtime upgrades for real, on test/fixtures/listener-fixture.cjs: `-u` + SIGQUIT
 * (descriptors over upgrade_sock) and SIGHUP (the old process starts the next generation),
 * each under load with a slow request in flight; a bad conf or a missing new process keeps
 * the old one serving; ten upgrades in a row; a Unix socket keeps its path across one; the
 * next generation does not inherit the old one's duplicate listening descriptors.
 */
import { existsSync, readFileSync, readdirSync, readlinkSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { readPidFile } from '@pingora-ts/core';
import { cleanup, isAlive, requireBuild, spawnNode, tempDir, trackPid, waitUntil } from './helpers';
import { LISTENER_FIXTURE, get, runLoad, startFixture, waitListening, waitPidFileChange } from './fixture-helpers';

beforeAll(requireBuild);
afterEach(cleanup);
jest.setTimeout(40_000);

test('-u + SIGQUIT under load: no error, the slow request is answered, the old process exits, the pid file names the new one', async () => {
  const f = await startFixture('grace_period_seconds: 5\ntag: old\n', [], { SLOW_MS: '1500' });
  const load = runLoad(f.port, 3000);
  await new Promise((r) => setTimeout(r, 400));
  const slow = get(f.port, '/slow');
  await f.p.waitFor(/request \/slow/);
  writeFileSync(f.conf, readFileSync(f.conf, 'utf8').replace('tag: old', 'tag: new'));
  const next = spawnNode([LISTENER_FIXTURE, '-u', '-c', f.conf], { SLOW_MS: '1500' });
  trackPid(next.child.pid as number);
  await waitUntil(() => existsSync(f.upgradeSock), 5000, 'the new process to wait on upgrade_sock');
  process.kill(f.pid, 'SIGQUIT');
  const { pid: newPid } = await waitListening(next, 1);
  await expect(slow).resolves.toEqual({ status: 200, body: `slow done ${f.pid}` });
  const result = await load;
  expect(result.errors).toEqual([]);
  expect(result.ok).toBeGreaterThan(100);
  await waitUntil(() => !isAlive(f.pid), 8000, 'the old process to exit');
  expect(readPidFile(f.pidFile)).toBe(newPid);
  expect(newPid).toBe(next.child.pid);
  await expect(get(f.port)).resolves.toEqual({ status: 200, body: `ok new ${newPid}` });
  expect(f.p.stderr()).toMatch(/the new process serves; draining and exiting signal=SIGQUIT/);
  expect(existsSync(f.upgradeSock)).toBe(false);
  next.child.kill('SIGTERM');
  await expect(next.exited).resolves.toBe(0);
});

test('SIGHUP with threads: 2 under load: the next generation takes over with the new conf, no error, the slow request is answered', async () => {
  const f = await startFixture('threads: 2\ngrace_period_seconds: 5\ntag: old\n', [], { SLOW_MS: '1500' });
  const load = runLoad(f.port, 3000);
  await new Promise((r) => setTimeout(r, 400));
  const slow = get(f.port, '/slow');
  await f.p.waitFor(/request \/slow/);
  writeFileSync(f.conf, readFileSync(f.conf, 'utf8').replace('tag: old', 'tag: new'));
  process.kill(f.pid, 'SIGHUP');
  const next = await waitListening(f.p, 2);
  expect(next.workers).toHaveLength(2);
  await expect(slow).resolves.toEqual({ status: 200, body: expect.stringMatching(/^slow done \d+$/) });
  const result = await load;
  expect(result.errors).toEqual([]);
  await waitUntil(() => !isAlive(f.pid) && f.workers.every((w) => !isAlive(w)), 8000, 'the old generation to exit');
  expect(readPidFile(f.pidFile)).toBe(next.pid);
  const answer = await get(f.port);
  expect(answer.body).toMatch(/^ok new \d+$/);
  expect(next.workers).toContain(Number(answer.body.split(' ')[2]));
  process.kill(next.pid, 'SIGTERM');
  await waitUntil(() => !isAlive(next.pid), 8000, 'the new generation to stop');
});

test('SIGHUP with a bad conf file logs the error and keeps serving the old conf', async () => {
  const f = await startFixture('tag: old\n');
  writeFileSync(f.conf, `${readFileSync(f.conf, 'utf8')}threads: two\n`);
  process.kill(f.pid, 'SIGHUP');
  await waitUntil(() => /the conf file is invalid/.test(f.p.stderr()), 5000, 'the error line');
  expect(f.p.stderr()).toMatch(/ERROR the conf file is invalid; still serving with the old one signal=SIGHUP reason=.*conf\.yaml:\d+:\d+: threads: expected an integer >= 1, got "two"/);
  await expect(get(f.port)).resolves.toEqual({ status: 200, body: `ok old ${f.pid}` });
  expect(readPidFile(f.pidFile)).toBe(f.pid);
});

test('SIGHUP with a listener whose certificate is missing keeps the old process serving', async () => {
  const f = await startFixture('tag: old\n');
  writeFileSync(f.conf, `${readFileSync(f.conf, 'utf8')}listeners:\n  - addr: 127.0.0.1:0\n    tls: { cert_path: /nonexistent/c.pem, key_path: /nonexistent/k.pem }\n`);
  process.kill(f.pid, 'SIGHUP');
  await waitUntil(() => /the conf file is invalid/.test(f.p.stderr()), 5000, 'the error line');
  expect(f.p.stderr()).toContain('listeners[0].tls.cert_path: cannot read /nonexistent/c.pem (ENOENT: no such file or directory)');
  await expect(get(f.port)).resolves.toEqual({ status: 200, body: `ok old ${f.pid}` });
});

test('SIGQUIT with no new process waiting logs it after the retries and keeps serving', async () => {
  const f = await startFixture('');
  process.kill(f.pid, 'SIGQUIT');
  await expect(get(f.port)).resolves.toEqual({ status: 200, body: `ok v1 ${f.pid}` });
  await waitUntil(() => /upgrade failed; still serving/.test(f.p.stderr()), 8000, 'the retries to give up');
  expect(f.p.stderr()).toMatch(/no new process is waiting on .*upgrade\.sock/);
  await expect(get(f.port)).resolves.toEqual({ status: 200, body: `ok v1 ${f.pid}` });
  expect(readPidFile(f.pidFile)).toBe(f.pid);
});

test('ten upgrades in a row, alternating -u + SIGQUIT and SIGHUP, under load: no error', async () => {
  const f = await startFixture('grace_period_seconds: 1\n');
  let errors: string[] = [];
  let ok = 0;
  let running = true;
  const load = (async () => {
    while (running) {
      const r = await runLoad(f.port, 500, 2);
      errors = errors.concat(r.errors);
      ok += r.ok;
    }
  })();
  let pid = f.pid;
  const upgrades: number[] = [];
  for (let i = 0; i < 10; i++) {
    if (i % 2 === 0) {
      const next = spawnNode([LISTENER_FIXTURE, '-u', '-c', f.conf]);
      trackPid(next.child.pid as number);
      await waitUntil(() => existsSync(f.upgradeSock), 5000, 'the new process to wait');
      process.kill(pid, 'SIGQUIT');
      await waitListening(next, 1);
    } else {
      process.kill(pid, 'SIGHUP');
    }
    pid = await waitPidFileChange(f.pidFile, pid);
    upgrades.push(pid);
  }
  running = false;
  await load;
  expect(new Set(upgrades).size).toBe(10);
  expect(errors).toEqual([]);
  expect(ok).toBeGreaterThan(50);
  await expect(get(f.port)).resolves.toEqual({ status: 200, body: `ok v1 ${pid}` });
  process.kill(pid, 'SIGTERM');
  await waitUntil(() => !isAlive(pid), 8000, 'the last generation to stop');
}, 60_000);

test('a Unix socket listener keeps serving at its path across a SIGHUP upgrade, and is removed on SIGTERM', async () => {
  const dir = tempDir();
  const path = join(dir, 'http.sock');
  const f = await startFixture(`grace_period_seconds: 1\nlisteners:\n  - addr: 127.0.0.1:0\n  - addr: unix:${path}\n    unix_mode: 0o600\n`, [], {}, dir);
  const viaUnix = (): Promise<string> =>
    new Promise((resolve, reject) => {
      const req = request({ socketPath: path, path: '/' }, (res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString()));
        res.on('end', () => resolve(body));
      });
      req.on('error', reject);
      req.end();
    });
  await expect(viaUnix()).resolves.toBe(`ok v1 ${f.pid}`);
  process.kill(f.pid, 'SIGHUP');
  const next = await waitListening(f.p, 2);
  await waitUntil(() => !isAlive(f.pid), 8000, 'the old process to exit');
  // The old process closed its copy; the path still leads to the new one.
  await expect(viaUnix()).resolves.toBe(`ok v1 ${next.pid}`);
  process.kill(next.pid, 'SIGTERM');
  await waitUntil(() => !isAlive(next.pid), 8000, 'the new process to stop');
  expect(existsSync(path)).toBe(false);
});

/** How many descriptors `pid` holds on the socket listening on 127.0.0.1:`port` (from /proc). */
function listeningDescriptors(pid: number, port: number): number {
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  const line = readFileSync('/proc/net/tcp', 'utf8')
    .split('\n')
    .map((l) => l.trim().split(/\s+/))
    .find((f) => f[1] === `0100007F:${hexPort}` && f[3] === '0A');
  if (line === undefined) throw new Error(`nothing listens on 127.0.0.1:${port}`);
  const target = `socket:[${line[9] as string}]`;
  const dir = `/proc/${pid}/fd`;
  return readdirSync(dir).filter((fd) => {
    try {
      return readlinkSync(join(dir, fd)) === target;
    } catch {
      return false; // closed meanwhile
    }
  }).length;
}

test("a listener accepts on 4 descriptors of its socket; the next generation does not inherit the old one's duplicates", async () => {
  const f = await startFixture('grace_period_seconds: 1\n');
  expect(listeningDescriptors(f.pid, f.port)).toBe(4);
  process.kill(f.pid, 'SIGHUP');
  const next = await waitPidFileChange(f.pidFile, f.pid);
  await waitUntil(() => !isAlive(f.pid), 8000, 'the old generation to exit');
  expect(listeningDescriptors(next, f.port)).toBe(4);
  await expect(get(f.port)).resolves.toMatchObject({ status: 200 });
  process.kill(next, 'SIGTERM');
  await waitUntil(() => !isAlive(next), 8000, 'the new generation to stop');
});
