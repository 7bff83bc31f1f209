import { closeSync, mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import pino from 'pino';

/** Where a log goes: a file path (appended, folders created), or a standard stream. */
export type LogTarget = string | 'stdout' | 'stderr';

/** A destination stream that can be flushed synchronously and reopened (a file: by its path; a standard stream: a no-op). */
export type LogDestination = pino.DestinationStream & { flushSync(): void; reopen(): void };

/**
 * A sonic-boom destination. `buffered`: asynchronous, lines gathered into 4 KiB writes.
 * Unbuffered (the error log): each line written synchronously as it comes, so none is lost if
 * the process dies. (The access log has its own batching writer: see `AccessLogger`.)
 * A file is opened here, synchronously, so a bad path fails at start-up, not on a later line;
 * sonic-boom keeps its path, so `reopen()` opens it again after a log rotation (unbuffered: at
 * once, synchronously, and it throws if the file cannot be opened, the old one kept).
 */
export function destination(target: LogTarget, buffered: boolean): LogDestination {
  const sync = !buffered;
  const minLength = buffered ? 4096 : 0;
  if (target === 'stdout' || target === 'stderr') {
    const stream = pino.destination({ fd: target === 'stdout' ? 1 : 2, sync, minLength });
    return Object.assign(stream, { reopen: (): void => {} });
  }
  mkdirSync(dirname(target), { recursive: true });
  if (buffered) closeSync(openSync(target, 'a')); // sonic-boom opens asynchronously: fail here, now
  return pino.destination({ dest: target, append: true, mkdir: true, sync, minLength }) as LogDestination;
}
