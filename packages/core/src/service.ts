/**
 * The two kinds of service a `Server` runs, after Pingora's `Service` trait.
 *
 * A listening service owns listeners and serves connections on them; a background service
 * runs a loop (health checks, discovery) until the server shuts down.
 */

/** An address a listening service is bound to, once it listens. */
export type BoundAddress = { kind: 'tcp'; host: string; port: number } | { kind: 'unix'; path: string };

export interface ShutdownOptions {
  /**
   * `true`: stop accepting, let requests in flight finish and close idle keep-alive
   * connections, until `timeoutMs`; then close what is left. `false`: close everything now.
   */
  graceful: boolean;
  timeoutMs: number;
}

export interface ListeningService {
  readonly kind: 'listening';
  readonly name: string;
  /** Binds every listener and starts accepting. Resolves once all listen; rejects on a bind error. */
  listen(): Promise<void>;
  /** Where the service listens (ports resolved when `:0` was asked for). Empty before `listen()`. */
  addresses(): BoundAddress[];
  /** Stops the service (see `ShutdownOptions`). Idempotent; resolves when every connection is closed. */
  shutdown(opts: ShutdownOptions): Promise<void>;
}

export interface BackgroundService {
  readonly kind: 'background';
  readonly name: string;
  /**
   * Runs the service until `signal` aborts. The returned promise resolves after the loop has
   * stopped. Runs once per server (never once per worker).
   */
  run(signal: AbortSignal): Promise<void>;
}

export type Service = ListeningService | BackgroundService;
