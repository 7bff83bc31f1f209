/**
 * The two kinds of service a `Server` runs, after Pingora's `Service` trait.
 *
 * A listening service serves connections on listeners; a background service runs a loop
 * (health checks, discovery) until the server shuts down.
 *
 * With `threads: N` the listening services run in every worker process and the background
 * services once, in the primary. What a background service finds out reaches the workers
 * through the `StateChannel` (`ctx.channel.publish` there, `ctx.channel.subscribe` here).
 */
import type { ConnectionHandler, Listener, ListenerOptions } from './listeners/listener';
import type { ListenerConfigInput } from './listeners/listener-config';
import type { Logger } from './logger';
import type { StateChannel } from './state-channel';

/** An address a listening service is bound to, once it listens. */
export type BoundAddress = { kind: 'tcp'; host: string; port: number } | { kind: 'unix'; path: string };

export interface ShutdownOptions {
  /**
   * `true`: stop accepting (`listener.stopAccepting()`), answer requests in flight with
   * `Connection: close`, close idle keep-alive connections now, and close what is left at
   * `timeoutMs`. `false`: close everything now.
   */
  graceful: boolean;
  timeoutMs: number;
}

/** What a `Server` gives a listening service's `listen()`. */
export interface ListenContext {
  /**
   * Opens `cfg` on the socket core holds for it: freshly bound (`threads: 1`), passed by the
   * primary (a worker), or taken over from the old process (an upgrade). Same contract as the
   * standalone `openListener`. Every `cfg.addr` should be in the service's `listenerConfigs`.
   */
  openListener(cfg: ListenerConfigInput, onConnection: ConnectionHandler, opts?: ListenerOptions): Promise<Listener>;
  /** State published by background services (in the primary); subscribe to it here. */
  readonly channel: StateChannel;
  readonly logger: Logger;
  /** 0 in a single process (`threads: 1`), 1..N in worker N. */
  readonly workerId: number;
}

/** What a `Server` gives a background service's `run()`. */
export interface BackgroundContext {
  /** Publish what the service finds out; every worker's listening services can subscribe. */
  readonly channel: StateChannel;
  readonly logger: Logger;
}

export interface ListeningService {
  readonly kind: 'listening';
  readonly name: string;
  /**
   * The listeners this service opens with `ctx.openListener`. Core binds them before any
   * service starts, passes them to workers (`threads` > 1) and to a new process in an
   * upgrade. A service without it binds its own sockets: it works with `threads: 1` only,
   * and cannot take part in a zero-downtime upgrade.
   */
  readonly listenerConfigs?: readonly ListenerConfigInput[];
  /**
   * Starts accepting. Resolves once every listener is open; rejects on a bind error. A
   * `Server` always passes `ctx`; code that runs the service on its own may leave it out, and
   * the service then binds with the standalone `openListener`.
   */
  listen(ctx?: ListenContext): Promise<void>;
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
   * stopped. Runs once per server, in the primary (never once per worker). A `Server` passes
   * `ctx`, whose `channel` carries state to the workers.
   */
  run(signal: AbortSignal, ctx?: BackgroundContext): Promise<void>;
}

export type Service = ListeningService | BackgroundService;
