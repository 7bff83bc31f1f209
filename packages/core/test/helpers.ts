/**
 * Test helpers: temp dirs, spawned node processes that are always killed afterwards, and a
 * pid liveness check that treats zombies as gone (PID 1 here may not reap daemons).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const CORE_DIR = join(__dirname, '..');
export const FIXTURE = join(__dirname, 'fixtures', 'server-fixture.cjs');

/** Fails early, with the fix in the message, when the built package the fixtures use is missing. */
export function requireBuild(): void {
  if (!existsSync(join(CORE_DIR, 'dist', 'index.cjs'))) {
    throw new Error('packages/core/dist is missing: run `pnpm build` in packages/core before these tests');
  }
}

const dirs: string[] = [];
export function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'pingora-ts-core-'));
  dirs.push(dir);
  return dir;
}

export interface Spawned {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Resolves when stdout has a line matching `re`; rejects on exit or after `ms`. */
  waitFor(re: RegExp, ms?: number): Promise<RegExpMatchArray>;
  /** Resolves the exit code (or signal name) once the process has exited. */
  exited: Promise<number | string>;
}

const children = new Set<ChildProcess>();
const pids = new Set<number>();

export function spawnNode(args: string[], env: Record<string, string> = {}, cwd = CORE_DIR): Spawned {
  const child = spawn(process.execPath, args, { cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  let out = '';
  let err = '';
  const waiters: Array<() => void> = [];
  child.stdout?.on('data', (d: Buffer) => {
    out += d.toString();
    for (const w of waiters) w();
  });
  child.stderr?.on('data', (d: Buffer) => {
    err += d.toString();
  });
  const exited = new Promise<number | string>((resolve) => {
    child.on('close', (code, signal) => {
      children.delete(child);
      resolve(code ?? signal ?? -1);
      for (const w of waiters) w();
    });
  });
  const waitFor = (re: RegExp, ms = 5000): Promise<RegExpMatchArray> =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out waiting for ${re}; stdout: ${out}; stderr: ${err}`)), ms);
      const check = (): void => {
        const m = out.match(re);
        if (m) {
          clearTimeout(timer);
          resolve(m);
        } else if (child.exitCode !== null || child.signalCode !== null) {
          clearTimeout(timer);
          reject(new Error(`process exited before ${re}; stdout: ${out}; stderr: ${err}`));
        }
      };
      waiters.push(check);
      check();
    });
  return { child, stdout: () => out, stderr: () => err, waitFor, exited };
}

/** Remembers a pid that is not our child (a daemon) so `cleanup()` kills it too. */
export function trackPid(pid: number): void {
  pids.add(pid);
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    // "pid (comm) S ..." — a zombie (Z) has exited; it only waits to be reaped.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return true;
  }
}

export async function waitUntil(predicate: () => boolean, ms = 5000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Kills every process spawned or tracked (SIGKILL, by pid) and removes the temp dirs. */
export function cleanup(): void {
  for (const child of children) if (child.pid !== undefined && isAlive(child.pid)) process.kill(child.pid, 'SIGKILL');
  children.clear();
  for (const pid of pids) if (isAlive(pid)) process.kill(pid, 'SIGKILL');
  pids.clear();
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
}
