/**
 * Daemon mode for real: `-d` returns only once the detached child listens, the pid file
 * names the child, SIGTERM stops it; a child that cannot bind makes the parent exit 1
 * with the bind error.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, connect, type AddressInfo, type Server as NetServer } from 'node:net';
import { join } from 'node:path';
import { readPidFile } from '@pingora-ts/core';
import { FIXTURE, cleanup, isAlive, requireBuild, spawnNode, tempDir, trackPid, waitUntil } from './helpers';

beforeAll(requireBuild);
afterEach(cleanup);

const occupied: NetServer[] = [];
afterEach(() => {
  for (const s of occupied.splice(0)) s.close();
});

/** Sends one HTTP/1.0 request on a raw socket and resolves the first response line. */
function statusLine(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write('GET / HTTP/1.0\r\n\r\n'));
    let data = '';
    socket.on('data', (d) => (data += d.toString()));
    socket.on('end', () => resolve(data.split('\r\n', 1)[0] ?? ''));
    socket.on('error', reject);
  });
}

test('-d exits 0 once the daemon listens; the pid file names the daemon; SIGTERM stops it', async () => {
  const dir = tempDir();
  const pidFile = join(dir, 'server.pid');
  const errorLog = join(dir, 'error.log');
  const portFile = join(dir, 'port');
  const conf = join(dir, 'conf.yaml');
  writeFileSync(conf, `pid_file: ${pidFile}\nerror_log: ${errorLog}\n`);
  const parent = spawnNode([FIXTURE, '-d', '-c', conf], { PORT_FILE: portFile });
  await expect(parent.exited).resolves.toBe(0);
  const printed = parent.stdout().match(/daemon started \(pid (\d+)\)/);
  expect(printed).not.toBeNull();
  const daemonPid = Number(printed?.[1]);
  trackPid(daemonPid);
  expect(daemonPid).not.toBe(parent.child.pid);

  // Right after the parent exits, the daemon already serves.
  const port = Number(readFileSync(portFile, 'utf8'));
  await expect(statusLine(port)).resolves.toBe('HTTP/1.1 200 OK');
  expect(readPidFile(pidFile)).toBe(daemonPid);
  expect(isAlive(daemonPid)).toBe(true);

  process.kill(daemonPid, 'SIGTERM');
  await waitUntil(() => !isAlive(daemonPid), 5000, 'the daemon to exit');
  expect(existsSync(pidFile)).toBe(false);
  // After startup the daemon's stderr goes to error_log.
  expect(readFileSync(errorLog, 'utf8')).toMatch(/INFO graceful shutdown signal=SIGTERM/);
});

test('a daemon that cannot bind makes the parent print the bind error and exit 1', async () => {
  const dir = tempDir();
  const busy = createServer();
  occupied.push(busy);
  await new Promise<void>((r) => busy.listen(0, '127.0.0.1', r));
  const port = (busy.address() as AddressInfo).port;
  const conf = join(dir, 'conf.yaml');
  writeFileSync(conf, `pid_file: ${join(dir, 'server.pid')}\ndaemon: true\n`);
  const parent = spawnNode([FIXTURE, '-c', conf], { PORT: String(port) });
  await expect(parent.exited).resolves.toBe(1);
  expect(parent.stderr()).toContain(`daemon failed to start: http: listen EADDRINUSE: address already in use 127.0.0.1:${port}`);
  expect(parent.stdout()).not.toContain('daemon started');
  expect(existsSync(join(dir, 'server.pid'))).toBe(false);
});
