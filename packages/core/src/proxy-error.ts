/**
 * The one error type of pingora-ts, after Pingora's `pingora_error::Error`.
 *
 * Every failure carries what went wrong (`kind`), whose fault it is (`source`) and whether
 * the request may be tried again (`retry`). Match on `kind`, not on the message.
 */

/** Where an error comes from: the upstream peer, the downstream client, or ourselves. */
export type ErrorSource = 'upstream' | 'downstream' | 'internal';

/**
 * Whether a failed attempt may be retried: `true`/`false` are decided; `'reused-only'` means
 * "only if the connection was reused from the pool" (a stale keep-alive connection that the
 * peer closed is worth a retry on a fresh one; a fresh connection that failed is not).
 */
export type RetryType = boolean | 'reused-only';

/** Every error kind, with the status a proxy sends downstream when it ends a request. */
export const ERROR_KINDS = {
  /** The peer refused the TCP connection (ECONNREFUSED). */
  ConnectRefused: { status: 502, retry: true },
  /** The TCP (or TLS) connection to the peer did not complete in time. */
  ConnectTimedout: { status: 502, retry: true },
  /** Any other failure to connect (unreachable, DNS, TLS handshake). */
  ConnectError: { status: 502, retry: true },
  /** The peer closed or reset the connection before a response arrived. */
  ConnectionClosed: { status: 502, retry: 'reused-only' },
  /** Reading the response from the peer failed. */
  ReadError: { status: 502, retry: false },
  /** Writing the request to the peer failed. */
  WriteError: { status: 502, retry: 'reused-only' },
  /**
   * Every connection to the peer that the pool's `maxConnections` allows stayed busy for the
   * whole wait (the connect timeout). Not retried: the wait already spent the connect budget.
   */
  ConnectionLimitReached: { status: 503, retry: false },
  /** The peer did not send a response (or the next body chunk) in time. */
  ReadTimedout: { status: 504, retry: false },
  /** The peer sent something that is not valid HTTP. */
  InvalidHTTPResponse: { status: 502, retry: false },
  /** The downstream client sent something that is not valid HTTP. */
  InvalidHTTPRequest: { status: 400, retry: false },
  /** The downstream client went away before the response was complete. */
  ClientGone: { status: 499, retry: false },
  /** No backend could be chosen (none configured, or none healthy). */
  NoHealthyUpstream: { status: 502, retry: false },
  /** A hook decided to end the request with this HTTP status. */
  HTTPStatus: { status: 500, retry: false },
  /** A bug or an unexpected exception inside the proxy or a user hook. */
  InternalError: { status: 500, retry: false },
  /** The configuration is invalid. */
  ConfigError: { status: 500, retry: false },
} as const satisfies Record<string, { status: number; retry: RetryType }>;

export type ErrorKind = keyof typeof ERROR_KINDS;

export interface ProxyErrorOptions {
  kind: ErrorKind;
  source: ErrorSource;
  /** Defaults to the kind's own retry type (see `ERROR_KINDS`). */
  retry?: RetryType;
  /** For `HTTPStatus`: the status to send downstream. */
  status?: number;
  cause?: unknown;
  /** Extra words on what was being done, e.g. the peer address. */
  context?: string;
  /**
   * The peer certainly did not process the request (HTTP/2 REFUSED_STREAM, or a stream above a
   * GOAWAY's last stream id): sending it again is safe whatever its method. Default false.
   */
  unprocessed?: boolean;
}

const kBrand = Symbol.for('pingora-ts.ProxyError');

export class ProxyError extends Error {
  readonly kind: ErrorKind;
  readonly source: ErrorSource;
  retry: RetryType;
  /** HTTP status a proxy sends downstream for this error. */
  readonly status: number;
  readonly context: string | undefined;
  /** The peer certainly did not process the request (see `ProxyErrorOptions.unprocessed`). */
  readonly unprocessed: boolean;
  readonly [kBrand] = true;

  constructor(message: string, opts: ProxyErrorOptions) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'ProxyError';
    this.kind = opts.kind;
    this.source = opts.source;
    this.retry = opts.retry ?? ERROR_KINDS[opts.kind].retry;
    this.status = opts.status ?? ERROR_KINDS[opts.kind].status;
    this.context = opts.context;
    this.unprocessed = opts.unprocessed ?? false;
  }

  /** An error caused by the upstream peer. */
  static upstream(kind: ErrorKind, message: string, cause?: unknown, context?: string): ProxyError {
    return new ProxyError(message, { kind, source: 'upstream', cause, context });
  }

  /** An error caused by the downstream client. */
  static downstream(kind: ErrorKind, message: string, cause?: unknown): ProxyError {
    return new ProxyError(message, { kind, source: 'downstream', cause });
  }

  /** An error of our own (a bug, a hook that threw, bad config). */
  static internal(kind: ErrorKind, message: string, cause?: unknown): ProxyError {
    return new ProxyError(message, { kind, source: 'internal', cause });
  }

  /** Ends the request with `status` (4xx/5xx) from inside a hook. */
  static httpStatus(status: number, message = `HTTP ${status}`): ProxyError {
    return new ProxyError(message, { kind: 'HTTPStatus', source: 'internal', status });
  }

  /** Wraps any thrown value as a ProxyError, keeping it when it already is one. */
  static from(err: unknown, fallback: Omit<ProxyErrorOptions, 'cause'> = { kind: 'InternalError', source: 'internal' }): ProxyError {
    if (ProxyError.isProxyError(err)) return err;
    const message = err instanceof Error ? err.message : String(err);
    return new ProxyError(message, { ...fallback, cause: err });
  }

  /** True for a ProxyError from any copy of this package. */
  static isProxyError(err: unknown): err is ProxyError {
    return typeof err === 'object' && err !== null && (err as { [kBrand]?: boolean })[kBrand] === true;
  }

  static override [Symbol.hasInstance](value: unknown): boolean {
    return ProxyError.isProxyError(value);
  }

  /** Whether the failed attempt may be retried, given whether its connection was reused. */
  canRetry(reusedConnection: boolean): boolean {
    return this.retry === 'reused-only' ? reusedConnection : this.retry;
  }
}
