import pino from 'pino';
import { destination, type LogTarget } from './destination';

/** One finished request, as the access log records it. */
export interface AccessLogEntry {
  method: string;
  path: string;
  status: number;
  /** Response body bytes sent to the client. */
  bytes: number;
  durationMs: number;
  client?: string | undefined;
  /** Upstream peer address of the last attempt, if any. */
  upstream?: string | null | undefined;
  /** Whether that upstream connection came from the pool (`false`: a new connection). */
  reused?: boolean | null | undefined;
  retries?: number | undefined;
  /** Error kind when the request failed. */
  error?: string | null | undefined;
}

export interface AccessLoggerOptions {
  /** File to append to; `stdout` (default) or `stderr`; `false` turns access logging off. */
  path?: string | false | undefined;
}

/** Writes one JSON line per request: method, path, status, bytes, duration, upstream, reuse. */
export class AccessLogger {
  readonly enabled: boolean;
  readonly #log: pino.Logger | null;

  constructor(opts: AccessLoggerOptions = {}) {
    this.enabled = opts.path !== false;
    const target: LogTarget = opts.path === false || opts.path === undefined ? 'stdout' : opts.path;
    // No pid/hostname base: the line holds the request, nothing repeated.
    this.#log = this.enabled
      ? pino({ base: null, timestamp: pino.stdTimeFunctions.isoTime }, destination(target, true))
      : null;
    // Lines are buffered for speed; a quiet proxy still shows them within a second.
    if (this.#log) setInterval(() => this.#log?.flush(), 1000).unref();
  }

  log(entry: AccessLogEntry): void {
    this.#log?.info(entry);
  }

  /** Writes out buffered lines; resolves once they are written. */
  flush(): Promise<void> {
    const log = this.#log;
    if (!log) return Promise.resolve();
    return new Promise((resolve, reject) => log.flush((err) => (err ? reject(err) : resolve())));
  }
}
