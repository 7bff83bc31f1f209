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

/** A pino logger that can reopen its file (and so can its children). */
export type ErrorLogger = pino.Logger & {
  /**
   * Opens the log file again by its path, after a rotation (`mv error.log error.log.1`);
   * a no-op without a path. Throws if the file cannot be opened; the logger keeps the old one.
   */
  reopen(): void;
};

/** The levels `level` takes, lowest first, then `silent`. */
export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const satisfies readonly pino.LevelWithSilent[];

/**
 * A pino logger writing JSON lines to `error_log`: server events, warnings, errors. Without a
 * path it writes through `process.stderr` (not fd 2 directly), so a daemon that detaches its
 * stderr once started keeps logging safely.
 */
export function createErrorLogger(opts: ErrorLoggerOptions = {}): ErrorLogger {
  const dest = opts.path === undefined ? undefined : destination(opts.path, false);
  const logger = pino(
    { level: opts.level ?? 'info', base: { pid: process.pid, ...opts.base }, timestamp: pino.stdTimeFunctions.isoTime },
    dest ?? process.stderr,
  );
  // An own property: `child()` loggers are made with Object.create(parent), so they have it too.
  return Object.assign(logger, { reopen: (): void => dest?.reopen() });
}
