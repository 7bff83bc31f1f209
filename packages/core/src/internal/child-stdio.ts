/**
 * Where children (workers, a new generation) write. A daemon's own stdout/stderr lead to a
 * parent that has exited, so its children write to error_log (or nowhere) instead.
 */
import type { IOType } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import type { Logger } from '../logger';

export interface ChildStdio {
  stdout: IOType | number;
  stderr: IOType | number;
  /** Closes this process's copy of the log file once the children are started. */
  release(): void;
}

export function childStdio(opts: { daemon: boolean; errorLog: string | undefined; logger: Logger }): ChildStdio {
  if (!opts.daemon) return { stdout: 'inherit', stderr: 'inherit', release: () => {} };
  let fd: number | undefined;
  if (opts.errorLog) {
    try {
      fd = openSync(opts.errorLog, 'a', 0o644);
    } catch (err) {
      opts.logger.warn({ err, error_log: opts.errorLog }, 'cannot open error_log for child processes');
    }
  }
  return {
    stdout: 'ignore',
    stderr: fd ?? 'ignore',
    release: () => {
      if (fd !== undefined) closeSync(fd);
    },
  };
}
