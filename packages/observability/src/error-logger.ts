import pino from 'pino';
import { destination, type LogTarget } from './destination';

export interface ErrorLoggerOptions {
  /** File for the error log (Pingora's `error_log`); unset: standard error. */
  path?: string | undefined;
  /** Lowest level written. Default `info`. */
  level?: pino.LevelWithSilent;
  /** Fields on every line (e.g. `{ service: 'web' }`). */
  base?: Record<string, unknown>;
}

/** A pino logger writing JSON lines to `error_log` (or stderr): server events, warnings, errors. */
export function createErrorLogger(opts: ErrorLoggerOptions = {}): pino.Logger {
  const target: LogTarget = opts.path ?? 'stderr';
  return pino(
    { level: opts.level ?? 'info', base: { pid: process.pid, ...opts.base }, timestamp: pino.stdTimeFunctions.isoTime },
    destination(target, false),
  );
}
