/**
 * Helpers for tests on test/fixtures/listener-fixture.cjs: start it with a conf, read what it
 * prints, send requests, and drive a bounded load (half keep-alive, half new connections)
 * that counts every failure.
 */
import { writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { join } from 'node:path';
import { readPidFile } from '@pingora-ts/core';
import { isAlive, spawnNode, tempDir, trackPid, waitUntil, type Spawned } from './helpers';

export const LISTENER_FIXTURE = join(__dirname, 'fixtures', 'listener-fixture.cjs');

export interface Fixture {
  p: Spawned;
  dir: string;
  conf: string;
  pidFile: string;
  upgradeSock: string;
  /** The bound addresses printed ("127.0.0.1:PORT" or "unix:/path"). */
  addrs: string[];
  port: number;
  pid: number;
  workers: number[];
}

/** Writes a conf (pid_file and upgrade_sock in a temp dir, then `extra` YAML lines). */
export function writeConf(dir: string, extra: string): { conf: string; pidFile: string; upgradeSock: string } {
  const pidFile = join(dir, 'server.pid');
  const upgradeSock = join(dir, 'upgrade.sock');
  const conf = join(dir, 'conf.yaml');
  writeFileSync(conf, `pid_file: ${pidFile}\nupgrade_sock: ${upgradeSock}\ngraceful_shutdown_timeout_seconds: 3\n${extra}`);
  return { conf, pidFile, upgradeSock };
}

const LISTENING = /listening (.+) pid (\d+) role \w+ workers ([\d,]*)\n/;

export function parseListening(m: RegExpMatchArray): { addrs: string[]; pid: number; workers: number[] } {
  const addrs = (m[1] ?? '').split(' ');
  const workers = (m[3] ?? '') === '' ? [] : (m[3] ?? '').split(',').map(Number);
  return { addrs, pid: Number(m[2]), workers };
}

/** Starts the fixture with a conf of `extra` lines; `nodeArgs` go before the script (e.g. `--require`). */
export async function startFixture(extra: string, args: string[] = [], env: Record<string, string> = {}, dir = tempDir(), nodeArgs: string[] = []): Promise<Fixture> {
  const { conf, pidFile, upgradeSock } = writeConf(dir, extra);
  const p = spawnNode([...nodeArgs, LISTENER_FIXTURE, '-c', conf, ...args], env);
  const { addrs, pid, workers } = parseListening(await p.waitFor(LISTENING, 10_000));
  for (const w of workers) trackPid(w);
  const tcp = addrs.find((a) => !a.startsWith('unix:')) ?? '';
  return { p, dir, conf, pidFile, upgradeSock, addrs, port: Number(tcp.slice(tcp.lastIndexOf(':') + 1)), pid, workers };
}

/** Waits for the nth "listening ..." line (n counts from 1) in `p`'s output; new generations print there too. */
export async function waitListening(p: Spawned, n: number, ms = 10_000): Promise<{ addrs: string[]; pid: number; workers: number[] }> {
  await waitUntil(() => [...p.stdout().matchAll(new RegExp(LISTENING, 'g'))].length >= n, ms, `listening line #${n}; stdout: ${p.stdout()}; stderr: ${p.stderr()}`);
  const all = [...p.stdout().matchAll(new RegExp(LISTENING, 'g'))];
  const found = parseListening(all[n - 1] as RegExpMatchArray);
  trackPid(found.pid);
  for (const w of found.workers) trackPid(w);
  return found;
}

export interface Reply {
  status: number;
  body: string;
}

export function get(port: number, path = '/', agent: Agent | false = false): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, agent }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.setTimeout(10_000, () => req.destroy(new Error('request timed out')));
    req.on('error', reject);
    req.end();
  });
}

export interface LoadResult {
  ok: number;
  errors: string[];
  /** Pids that answered (the bodies end with the pid). */
  pids: Set<number>;
}

/**
 * Sends requests for `ms` from `concurrency` loops: even loops reuse keep-alive connections,
 * odd loops open a new connection each time. Every non-200 or error is recorded.
 */
export async function runLoad(port: number, ms: number, concurrency = 4, onTick?: () => void): Promise<LoadResult> {
  const result: LoadResult = { ok: 0, errors: [], pids: new Set() };
  const deadline = Date.now() + ms;
  const keepAlive = new Agent({ keepAlive: true, maxSockets: concurrency });
  const loop = async (i: number): Promise<void> => {
    while (Date.now() < deadline) {
      try {
        const r = await get(port, '/', i % 2 === 0 ? keepAlive : false);
        if (r.status === 200) {
          result.ok++;
          result.pids.add(Number(r.body.slice(r.body.lastIndexOf(' ') + 1)));
        } else result.errors.push(`status ${r.status}`);
      } catch (err) {
        result.errors.push((err as Error).message);
      }
      onTick?.();
    }
  };
  await Promise.all(Array.from({ length: concurrency }, (_, i) => loop(i)));
  keepAlive.destroy();
  return result;
}

/** Resolves once the pid file names a live process other than `not`; returns it. */
export async function waitPidFileChange(pidFile: string, not: number, ms = 10_000): Promise<number> {
  await waitUntil(() => {
    const pid = readPidFile(pidFile);
    return pid !== undefined && pid !== not && isAlive(pid);
  }, ms, `pid file ${pidFile} to name a new process`);
  const pid = readPidFile(pidFile) as number;
  trackPid(pid);
  return pid;
}
