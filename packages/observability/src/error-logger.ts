import pino from 'pino';
import { destination } from './destination';

export interface ErrorLoggerOptions {
  /** File for the error log (Pingora's `error_log`); unset: standard error. */
  path?: string | undefined;
  /** Lowest level written. Default `info`. */
  level?: pino.LevelWithSilent;
  /** Fields on every line (e.g. `{ service: 'web' }`). */
  base?: Record<string, unknown>;
}

/**
 * A pino logger writing JSON lines to `error_log`: server events, warnings, errors. Without a
 * path it writes through `process.stderr` (not fd 2 directly), so a daemon that detaches its
 * stderr once started keeps logging safely.
 */
export function createErrorLogger(opts: ErrorLoggerOptions = {}): pino.Logger {
  return pino(
    { level: opts.level ?? 'info', base: { pid: process.pid, ...opts.base }, timestamp: pino.stdTimeFunctions.isoTime },
    opts.path === undefined ? process.stderr : destination(opts.path, false),
  );
}
