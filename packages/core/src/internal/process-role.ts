/**
 * The environment variables a pingora-ts process reads to know what it was started as. Each
 * is read once and removed from the environment, so programs the process starts in turn
 * (upstream helpers, scripts) do not inherit a role that is not theirs.
 */
import { closeSync } from 'node:fs';

/** Set in a worker: its id (1..threads). */
export const WORKER_ENV = 'PINGORA_TS_WORKER';
/** Set in a new generation started by SIGHUP: the listening sockets come over IPC. */
export const HANDOFF_ENV = 'PINGORA_TS_HANDOFF';
/** The conf text the primary validated, so a worker (even a replacement) runs exactly that conf. */
export const CONF_TEXT_ENV = 'PINGORA_TS_CONF_TEXT';
/** Descriptors the parent could not keep from leaking into this process (see `closeStrayFds`). */
export const STRAY_FDS_ENV = 'PINGORA_TS_STRAY_FDS';

const taken = new Map<string, string | undefined>();

/** Reads `name` once; later calls return the same value though the variable is gone. */
export function takeEnv(name: string): string | undefined {
  if (!taken.has(name)) {
    taken.set(name, process.env[name]);
    delete process.env[name];
  }
  return taken.get(name);
}

/**
 * Descriptors received over a Unix socket (an upgrade) are not close-on-exec, so every child
 * the receiving process starts inherits them under their old numbers. The parent names them
 * in `STRAY_FDS_ENV`, and the child closes them first thing, so a listener a later conf drops
 * is really closed instead of lingering in workers.
 */
export function closeStrayFds(): void {
  const list = takeEnv(STRAY_FDS_ENV);
  if (!list) return;
  for (const part of list.split(',')) {
    const fd = Number(part);
    if (!Number.isInteger(fd) || fd < 3) continue;
    try {
      closeSync(fd);
    } catch {
      // not open here: nothing leaked
    }
  }
}

/** Descriptors this process adopted from another one: they are not close-on-exec. */
const inheritable = new Set<number>();

/** Remembers an adopted descriptor so children we start are told to close it (unless passed on). */
export function noteInheritableFd(fd: number): void {
  inheritable.add(fd);
}

export function forgetInheritableFd(fd: number): void {
  inheritable.delete(fd);
}

/** The adopted descriptors a child would inherit by accident: not passed, and above its stdio slots. */
export function strayFdsFor(stdioLength: number, passed: readonly number[]): number[] {
  return [...inheritable].filter((fd) => fd >= stdioLength && !passed.includes(fd));
}
