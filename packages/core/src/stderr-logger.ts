/**
 * The logger a `Server` uses when the app gives none: one text line per entry on stderr,
 * so a bind error or a failing background service is never silent. Apps that want JSON,
 * levels or files plug in a pino logger from `@pingora-ts/observability` instead.
 */
import { errorMessage, errorName } from './internal/error-message';
import type { Logger } from './logger';

type Level = 'error' | 'warn' | 'info' | 'debug';
const RANK: Record<Level, number> = { error: 0, warn: 1, info: 2, debug: 3 };

function isErrorLike(value: unknown): boolean {
  return typeof value === 'object' && value !== null && typeof (value as { message?: unknown }).message === 'string' && 'stack' in value;
}

function fields(obj: object): string {
  let out = '';
  for (const [key, value] of Object.entries(obj)) {
    const text = typeof value === 'string' ? value : isErrorLike(value) ? `${errorName(value) ?? 'Error'}: ${errorMessage(value)}` : JSON.stringify(value);
    out += ` ${key}=${text}`;
  }
  return out;
}

/** A logger writing `time LEVEL msg key=value...` lines to stderr, up to `level` (default `info`). */
export function createStderrLogger(level: Level = 'info'): Logger {
  const max = RANK[level];
  const write = (l: Level, obj: object, msg?: string): void => {
    if (RANK[l] > max) return;
    process.stderr.write(`${new Date().toISOString()} ${l.toUpperCase()} ${msg ?? ''}${fields(obj)}\n`);
  };
  return {
    error: (obj, msg) => write('error', obj, msg),
    warn: (obj, msg) => write('warn', obj, msg),
    info: (obj, msg) => write('info', obj, msg),
    debug: (obj, msg) => write('debug', obj, msg),
  };
}
