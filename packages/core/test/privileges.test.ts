/**
 * `user` / `group` for real (these tests run as root, as the server would): the server binds
 * a privileged port first, then runs as nobody:nogroup, in the single process and in every
 * worker. Skipped when not running as root.
 */
import { chmodSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { dropPrivileges } from '@pingora-ts/core';
import { cleanup, requireBuild, tempDir } from './helpers';
import { get, startFixture } from './fixture-helpers';

const asRoot = process.getuid?.() === 0;
const maybe = asRoot ? test : test.skip;

beforeAll(requireBuild);
afterEach(cleanup);

/** `Uid:` and `Gid:` (real, effective, saved, fs) of a process. */
function ids(pid: number): { uid: string; gid: string; groups: string } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const line = (name: string): string => status.match(new RegExp(`^${name}:\\s*(.*)$`, 'm'))?.[1]?.trim().replace(/\s+/g, ' ') ?? '';
  return { uid: line('Uid'), gid: line('Gid'), groups: line('Groups') };
}

/** A free port below 1024 (only root can bind it), found by trying. */
async function privilegedPort(): Promise<number> {
  for (let port = 1000; port > 900; port--) {
    const free = await new Promise<boolean>((resolve) => {
      const s = createServer();
      s.once('error', () => resolve(false));
      s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
    });
    if (free) return port;
  }
  throw new Error('no free port below 1024');
}

/** The pid file is written after the switch, so its directory must be writable by nobody. */
function openDir(): string {
  const dir = tempDir();
  chmodSync(dir, 0o777);
  return dir;
}

maybe('binds a privileged port as root, then serves as nobody:nogroup', async () => {
  const port = await privilegedPort();
  const f = await startFixture(`user: nobody\ngroup: nogroup\nlisteners:\n  - addr: 127.0.0.1:${port}\n`, [], {}, openDir());
  expect(f.port).toBe(port);
  expect(ids(f.pid)).toEqual({ uid: '65534 65534 65534 65534', gid: '65534 65534 65534 65534', groups: '65534' });
  await expect(get(port)).resolves.toEqual({ status: 200, body: `ok v1 ${f.pid}` });
  process.kill(f.pid, 'SIGTERM');
  await expect(f.p.exited).resolves.toBe(0);
});

maybe('with threads: 2 the primary drops before starting workers, so no worker ever runs as root', async () => {
  const f = await startFixture('user: nobody\nthreads: 2\n', [], {}, openDir());
  for (const pid of [f.pid, ...f.workers]) expect(ids(pid).uid).toBe('65534 65534 65534 65534');
  // Without `group`, the user's primary group from /etc/passwd.
  for (const pid of [f.pid, ...f.workers]) expect(ids(pid).gid).toBe('65534 65534 65534 65534');
  await expect(get(f.port)).resolves.toMatchObject({ status: 200 });
  process.kill(f.pid, 'SIGTERM');
  await expect(f.p.exited).resolves.toBe(0);
});

test('dropPrivileges explains what it could not do', () => {
  expect(() => dropPrivileges({})).not.toThrow();
  expect(() => dropPrivileges({ user: 'no-such-user-pingora' })).toThrow(/^cannot switch to user "no-such-user-pingora": /);
});
