/**
 * The logging interface every package writes to. It is the shape of a pino logger's
 * object-first methods, so `@pingora-ts/observability` (pino) plugs in directly and
 * lower packages never import a logging library.
 */
export interface Logger {
  error(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  debug(obj: object, msg?: string): void;
}

const noop = (): void => {};

/** A logger that drops everything (the default where none is given). */
export const silentLogger: Logger = { error: noop, warn: noop, info: noop, debug: noop };
