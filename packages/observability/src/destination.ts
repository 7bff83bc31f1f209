import { mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import pino from 'pino';

/** Where a log goes: a file path (appended, folders created), or a standard stream. */
export type LogTarget = string | 'stdout' | 'stderr';

/**
 * An asynchronous destination (sonic-boom), so logging never blocks a request. `buffered`
 * gathers lines into 4 KiB writes (for the access log, one line per request); unbuffered
 * writes each line as it comes (for the error log, where a line must not wait).
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
  return pino.destination({ fd, sync: false, minLength: buffered ? 4096 : 0 });
}
