/**
 * The process error policy (docs/process-errors.md) on a real server process
 * (fixtures/server-fixture.cjs): an unhandled rejection is logged with its stack and serving
 * goes on; an uncaught exception is logged with its stack and stops the server gracefully,
 * letting the request in flight finish, with exit code 1.
 */
import { existsSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { FIXTURE, cleanup, requireBuild, spawnNode, tempDir, waitUntil } from './helpers';

beforeAll(requireBuild);
afterEach(cleanup);

function get(port: number, path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve(body));
    });
    req.on('error', reject);
    req.end();
  });
}

async function startServer(): Promise<{ p: ReturnType<typeof spawnNode>; port: number; pidFile: string }> {
  const dir = tempDir();
  const pidFile = join(dir, 'server.pid');
  const conf = join(dir, 'conf.yaml');
  writeFileSync(conf, `pid_file: ${pidFile}\ngraceful_shutdown_timeout_seconds: 5\n`);
  const p = spawnNode([FIXTURE, '-c', conf]);
  const port = Number((await p.waitFor(/listening (\d+)/))[1]);
  return { p, port, pidFile };
}

test('an unhandled rejection is logged with its stack; the server keeps serving', async () => {
  const { p, port } = await startServer();
  await expect(get(port, '/reject')).resolves.toBe('ok');
  await waitUntil(() => p.stderr().includes('unhandled promise rejection'), 5000, 'the rejection logged');
  expect(p.stderr()).toMatch(/ERROR unhandled promise rejection; still serving err=Error: rejected by \/reject stack=Error: rejected by \/reject\n\s+at /);
  await expect(get(port, '/')).resolves.toBe('ok');
  expect(p.stdout()).not.toContain('phase graceful-terminate');
  p.child.kill('SIGTERM');
  await expect(p.exited).resolves.toBe(0);
});

test('an uncaught exception is logged with its stack, drains the request in flight and exits 1', async () => {
  const { p, port, pidFile } = await startServer();
  const slow = get(port, '/slow');
  await p.waitFor(/request \/slow/);
  await expect(get(port, '/throw')).resolves.toBe('ok');
  await p.waitFor(/phase graceful-terminate/);
  expect(p.stderr()).toMatch(/ERROR uncaught exception; shutting down gracefully \(exit code 1\) err=Error: thrown by \/throw stack=Error: thrown by \/throw\n\s+at /);
  await expect(slow).resolves.toBe('slow done');
  await expect(p.exited).resolves.toBe(1);
  expect(p.stdout()).toContain('phase shutdown');
  expect(existsSync(pidFile)).toBe(false);
});
