import { mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import pino from 'pino';

/** Where a log goes: a file path (appended, folders created), or a standard stream. */
export type LogTarget = string | 'stdout' | 'stderr';

/**
 * A sonic-boom destination. `buffered`: asynchronous, lines gathered into 4 KiB writes.
 * Unbuffered (the error log): each line written synchronously as it comes, so none is lost if
 * the process dies. (The access log has its own batching writer: see `AccessLogger`.)
 * A file is opened here, synchronously, so a bad path fails at start-up, not on a later line.
 */
export function destination(target: LogTarget, buffered: boolean): pino.DestinationStream & { flushSync(): void } {
  let fd: number;
  if (target === 'stdout') fd = 1;
  else if (target === 'stderr') fd = 2;
  else {
    mkdirSync(dirname(target), { recursive: true });
    fd = openSync(target, 'a');
  }
  return pino.destination({ fd, sync: !buffered, minLength: buffered ? 4096 : 0 });
}
