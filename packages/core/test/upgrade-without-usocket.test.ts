/**
 * The optional native addon usocket (descriptor passing for `-u` + SIGQUIT) failing to load,
 * simulated by test/fixtures/no-usocket.cjs preloaded with `node --require`: the server still
 * serves, SIGQUIT says why it cannot hand over and keeps serving, `-u` exits 1 with the reason,
 * and the SIGHUP upgrade, which needs no addon, still works.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readPidFile } from '@pingora-ts/core';
import { cleanup, isAlive, requireBuild, spawnNode, trackPid, waitUntil } from './helpers';
import { LISTENER_FIXTURE, get, startFixture, waitListening } from './fixture-helpers';

const NO_USOCKET = ['--require', join(__dirname, 'fixtures', 'no-usocket.cjs')];
/** The reason core gives, with the load error it got. */
const UNAVAILABLE =
  /descriptor passing is unavailable \(the optional native module usocket did not load: Cannot find module 'usocket' \(hidden by test\/fixtures\/no-usocket\.cjs\)\); reinstall with build tools \(python3, make, g\+\+\) to enable -u \/ SIGQUIT upgrades/;

beforeAll(requireBuild);
afterEach(cleanup);
jest.setTimeout(20_000);

test('without usocket: the server serves, SIGQUIT logs why it cannot hand over and keeps serving, SIGHUP still upgrades', async () => {
  const f = await startFixture('grace_period_seconds: 1\ntag: old\n', [], {}, undefined, NO_USOCKET);
  await expect(get(f.port)).resolves.toEqual({ status: 200, body: `ok old ${f.pid}` });

  process.kill(f.pid, 'SIGQUIT');
  // At once: the addon is missing, so there is nothing to retry.
  await waitUntil(() => /upgrade failed; still serving/.test(f.p.stderr()), 2000, 'the SIGQUIT error line');
  const line = f.p.stderr().split('\n').find((l) => l.includes('upgrade failed; still serving')) ?? '';
  expect(line).toMatch(/ ERROR upgrade failed; still serving signal=SIGQUIT reason=/);
  expect(line).toMatch(UNAVAILABLE);
  await expect(get(f.port)).resolves.toEqual({ status: 200, body: `ok old ${f.pid}` });
  expect(readPidFile(f.pidFile)).toBe(f.pid);
  expect(isAlive(f.pid)).toBe(true);

  writeFileSync(f.conf, readFileSync(f.conf, 'utf8').replace('tag: old', 'tag: new'));
  process.kill(f.pid, 'SIGHUP');
  const next = await waitListening(f.p, 2);
  await waitUntil(() => !isAlive(f.pid), 8000, 'the old generation to exit');
  await expect(get(f.port)).resolves.toEqual({ status: 200, body: `ok new ${next.pid}` });
  expect(readPidFile(f.pidFile)).toBe(next.pid);

  // The new generation runs with the same Node flags, so it lacks usocket too, and says so.
  process.kill(next.pid, 'SIGQUIT');
  await waitUntil(() => f.p.stderr().match(new RegExp(UNAVAILABLE, 'g'))?.length === 2, 2000, 'the second SIGQUIT error line');
  await expect(get(f.port)).resolves.toEqual({ status: 200, body: `ok new ${next.pid}` });
  process.kill(next.pid, 'SIGTERM');
  await waitUntil(() => !isAlive(next.pid), 8000, 'the new generation to stop');
});

test('without usocket: -u exits 1 at once with the reason, and the running server is untouched', async () => {
  const f = await startFixture('tag: old\n', [], {}, undefined, NO_USOCKET);
  const next = spawnNode([...NO_USOCKET, LISTENER_FIXTURE, '-u', '-c', f.conf]);
  trackPid(next.child.pid as number);
  const started = Date.now();
  await expect(next.exited).resolves.toBe(1);
  expect(Date.now() - started).toBeLessThan(5000);
  const line = next.stderr().split('\n').find((l) => l.includes('startup failed')) ?? '';
  expect(line).toMatch(/ ERROR startup failed reason=upgrade: /);
  expect(line).toMatch(UNAVAILABLE);
  expect(next.stderr()).not.toMatch(/waiting for the running server/); // no SIGQUIT asked for in vain
  expect(next.stdout()).not.toMatch(/listening /);
  expect(existsSync(f.upgradeSock)).toBe(false);
  await expect(get(f.port)).resolves.toEqual({ status: 200, body: `ok old ${f.pid}` });
  expect(readPidFile(f.pidFile)).toBe(f.pid);
});
