/**
 * The pid file, after Pingora's `pid_file`: scripts and service managers find a daemon by it.
 *
 * It is written atomically (a temp file renamed over the target) so a reader never sees a
 * half-written pid, and removed only while it still names us, so a server that exits never
 * deletes the file of another process that has taken its place.
 */
import { readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';

/** Writes `pid` (default: this process) to `path` atomically. Throws on I/O errors. */
export function writePidFile(path: string, pid: number = process.pid): void {
  const tmp = `${path}.${pid}.tmp`;
  try {
    writeFileSync(tmp, `${pid}\n`, { mode: 0o644 });
    renameSync(tmp, path);
  } catch (err) {
    try {
      unlinkSync(tmp);
    } catch {
      // nothing was written
    }
    throw err;
  }
}

/** The pid in `path`, or `undefined` when the file is missing or holds no pid. */
export function readPidFile(path: string): number | undefined {
  try {
    const pid = Number.parseInt(readFileSync(path, 'utf8').trim(), 10);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** Removes `path` if it still names `pid`. Returns whether it removed it; never throws. */
export function removePidFile(path: string, pid: number = process.pid): boolean {
  if (readPidFile(path) !== pid) return false;
  try {
    unlinkSync(path);
    return true;
  } catch {
    return false;
  }
}
