/**
 * A real server process (test/fixtures/server-fixture.cjs, on the built package) driven
 * by real signals: SIGTERM drains requests in flight, SIGINT stops at once, SIGHUP/SIGQUIT
 * refuse to upgrade a self-binding service, and `-t` / a bad conf exit with their codes.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { FIXTURE, cleanup, requireBuild, spawnNode, tempDir } from './helpers';

beforeAll(requireBuild);
afterEach(cleanup);

function get(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

function confFile(dir: string, extra = ''): { conf: string; pid: string } {
  const pid = join(dir, 'server.pid');
  const conf = join(dir, 'conf.yaml');
  writeFileSync(conf, `pid_file: ${pid}\ngraceful_shutdown_timeout_seconds: 5\n${extra}`);
  return { conf, pid };
}

async function startServer(args: string[] = []): Promise<{ p: ReturnType<typeof spawnNode>; port: number; pid: string }> {
  const { conf, pid } = confFile(tempDir());
  const p = spawnNode([FIXTURE, '-c', conf, ...args]);
  const port = Number((await p.waitFor(/listening (\d+)/))[1]);
  return { p, port, pid };
}

test('SIGTERM lets the request in flight finish, removes the pid file and exits 0', async () => {
  const { p, port, pid } = await startServer();
  expect(readFileSync(pid, 'utf8').trim()).toBe(String(p.child.pid));
  const slow = get(port, '/slow');
  await p.waitFor(/request \/slow/);
  p.child.kill('SIGTERM');
  await p.waitFor(/phase graceful-terminate/);
  await expect(slow).resolves.toEqual({ status: 200, body: 'slow done' });
  await expect(p.exited).resolves.toBe(0);
  expect(p.stdout()).toMatch(/phase running\n[\s\S]*phase graceful-terminate\nphase shutdown\n/);
  expect(existsSync(pid)).toBe(false);
});

test('SIGINT stops at once, cutting the request in flight, and exits 0', async () => {
  const { p, port, pid } = await startServer();
  const slow = get(port, '/slow').then(
    () => 'answered',
    (err: Error) => err.message,
  );
  await p.waitFor(/request \/slow/);
  const t0 = Date.now();
  p.child.kill('SIGINT');
  await expect(p.exited).resolves.toBe(0);
  expect(Date.now() - t0).toBeLessThan(1000);
  await expect(slow).resolves.toBe('socket hang up');
  expect(p.stdout()).toContain('phase fast-shutdown');
  expect(existsSync(pid)).toBe(false);
});

test('SIGHUP and SIGQUIT refuse to upgrade a service that binds its own sockets; the server keeps serving', async () => {
  const { p, port } = await startServer();
  p.child.kill('SIGHUP');
  p.child.kill('SIGQUIT');
  await new Promise((r) => setTimeout(r, 100));
  await expect(get(port, '/')).resolves.toEqual({ status: 200, body: 'ok' });
  expect(p.stderr()).toMatch(/ERROR cannot upgrade without downtime: these services bind their own sockets \(no listenerConfigs\); still serving signal=SIGHUP services=\["http"\]/);
  expect(p.stderr()).toMatch(/still serving signal=SIGQUIT/);
  p.child.kill('SIGTERM');
  await expect(p.exited).resolves.toBe(0);
});

test('-t on a good conf prints "conf <file> ok" and exits 0 without listening', async () => {
  const { conf, pid } = confFile(tempDir());
  const p = spawnNode([FIXTURE, '-t', '-c', conf]);
  await expect(p.exited).resolves.toBe(0);
  expect(p.stdout()).toContain(`conf ${conf} ok\n`);
  expect(p.stdout()).not.toContain('listening');
  expect(existsSync(pid)).toBe(false);
});

test('-t on a bad conf prints the one-line ConfError and exits 1', async () => {
  const { conf } = confFile(tempDir(), 'threads: two\n');
  const p = spawnNode([FIXTURE, '-t', '-c', conf]);
  await expect(p.exited).resolves.toBe(1);
  expect(p.stderr()).toBe(`${conf}:3:10: threads: expected an integer >= 1, got "two"\n`);
});

test('an unknown flag exits 2 with the OptError', async () => {
  const p = spawnNode([FIXTURE, '--bogus']);
  await expect(p.exited).resolves.toBe(2);
  expect(p.stderr()).toBe("unknown option '--bogus' (see --help)\n");
});

test('-h prints the usage and exits 0', async () => {
  const p = spawnNode([FIXTURE, '-h']);
  await expect(p.exited).resolves.toBe(0);
  expect(p.stdout()).toMatch(/^Usage: server-fixture.cjs \[OPTIONS\]$/m);
  expect(p.stdout()).toContain('-c, --conf <FILE>');
});

test('-u with a service that binds its own sockets fails at once with one line (nothing to take over)', async () => {
  const { conf } = confFile(tempDir());
  const p = spawnNode([FIXTURE, '-u', '-c', conf]);
  await expect(p.exited).resolves.toBe(1);
  expect(p.stderr()).toMatch(/ERROR startup failed reason=upgrade: http binds its own sockets \(no listenerConfigs\): there is nothing to take over\n$/);
});
