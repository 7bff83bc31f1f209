/**
 * Runs the README's example (examples/echo-server.mjs, importing the built package) as a
 * user would: it echoes, keeps serving its open connection through a SIGTERM, and exits 0
 * once that client is done.
 */
import { existsSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { CORE_DIR, cleanup, requireBuild, spawnNode, tempDir } from './helpers';

const EXAMPLE = join(CORE_DIR, 'examples', 'echo-server.mjs');

beforeAll(requireBuild);
afterEach(cleanup);

function roundTrip(socket: Socket, text: string): Promise<string> {
  return new Promise((resolve) => {
    socket.once('data', (d) => resolve(d.toString()));
    socket.write(text);
  });
}

test('echo-server.mjs echoes, drains on SIGTERM, removes its pid file and exits 0', async () => {
  const dir = tempDir();
  const pidFile = join(dir, 'echo.pid');
  writeFileSync(join(dir, 'conf.yaml'), `pid_file: ${pidFile}\n`);
  const p = spawnNode([EXAMPLE, '-c', join(dir, 'conf.yaml')]);
  const port = Number((await p.waitFor(/echo listening on 127\.0\.0\.1:(\d+)/))[1]);
  expect(existsSync(pidFile)).toBe(true);
  const socket = connect(port, '127.0.0.1');
  try {
    await expect(roundTrip(socket, 'hello')).resolves.toBe('hello');
    p.child.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 100));
    // Graceful: the open connection is still served.
    await expect(roundTrip(socket, 'still there')).resolves.toBe('still there');
  } finally {
    socket.end();
  }
  await expect(p.exited).resolves.toBe(0);
  expect(existsSync(pidFile)).toBe(false);
});

test('echo-server.mjs -t checks the conf and exits 0', async () => {
  const dir = tempDir();
  writeFileSync(join(dir, 'conf.yaml'), 'threads: 2\n');
  const p = spawnNode([EXAMPLE, '-t', '-c', join(dir, 'conf.yaml')]);
  await expect(p.exited).resolves.toBe(0);
  expect(p.stdout()).toBe(`conf ${join(dir, 'conf.yaml')} ok\n`);
});
