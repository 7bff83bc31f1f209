import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AccessLogger, createErrorLogger } from '@pingora-ts/observability';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'pts-obs-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function lines(file: string): Record<string, unknown>[] {
  return readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
}

test('error log writes JSON lines with level, time, pid and message to error_log', async () => {
  const file = join(dir, 'logs', 'error.log');
  const log = createErrorLogger({ path: file, base: { service: 'web' } });
  log.warn({ client: '127.0.0.1' }, 'bad request');
  log.debug({}, 'not written at info level');
  await new Promise<void>((resolve, reject) => log.flush((err) => (err ? reject(err) : resolve())));
  const [line, ...rest] = lines(file);
  expect(rest).toHaveLength(0);
  expect(line).toMatchObject({ level: 40, msg: 'bad request', client: '127.0.0.1', service: 'web', pid: process.pid });
  expect(typeof line?.time).toBe('string');
});

test('access log writes one line per request with the request fields', async () => {
  const file = join(dir, 'access.log');
  const log = new AccessLogger({ path: file });
  log.log({ method: 'GET', path: '/a?b=1', status: 200, bytes: 12, durationMs: 1.5, upstream: '127.0.0.1:8001', reused: true });
  log.log({ method: 'POST', path: '/', status: 502, bytes: 0, durationMs: 3, upstream: null, reused: null, error: 'ConnectRefused' });
  await log.flush();
  const got = lines(file);
  expect(got).toHaveLength(2);
  expect(got[0]).toMatchObject({ method: 'GET', path: '/a?b=1', status: 200, bytes: 12, upstream: '127.0.0.1:8001', reused: true });
  expect(got[1]).toMatchObject({ status: 502, error: 'ConnectRefused' });
});

test('access logging can be turned off', () => {
  const log = new AccessLogger({ path: false });
  expect(log.enabled).toBe(false);
  log.log({ method: 'GET', path: '/', status: 200, bytes: 0, durationMs: 0 });
});
