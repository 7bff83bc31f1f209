import type { Backend } from '../backend';

/**
 * How one request sent to a backend ended, as passive health and latency-aware selection
 * see it: `ok` (any response but a 5xx), `http_5xx` (the backend answered 500–599),
 * `connect_error` (no connection or handshake), `timeout` (connect, read or write timed
 * out), `reset` (the connection broke mid-request).
 */
export type RequestOutcome = 'ok' | 'http_5xx' | 'connect_error' | 'timeout' | 'reset';

/**
 * What a caller reports around each request it sends to a selected backend, so that
 * `least_conn` and `p2c_ewma` see the load and passive health sees failures. `LoadBalancer`
 * implements it; the proxy and the undici dispatcher call it. Each `requestStarted` is paired
 * with exactly one `requestEnded` for the same backend.
 */
export interface RequestObserver {
  /** A request to `backend` starts (counted in flight until `requestEnded`). */
  requestStarted(backend: Backend): void;
  /**
   * The request ended. `latencyMs` runs from `requestStarted` to the response head, or to the
   * failure when there was none.
   */
  requestEnded(backend: Backend, outcome: RequestOutcome, latencyMs: number): void;
}

/** The live load of each backend, read by load-aware selectors. */
export interface LoadView {
  /** Requests started and not yet ended on `backend` (0 for one never seen). */
  inflight(backend: Backend): number;
  /**
   * Peak-EWMA latency of `backend` in ms (Finagle's peak EWMA: a slower sample is taken at
   * once, faster ones pull it down with a decay over time); 0 before the first sample.
   */
  latencyMs(backend: Backend): number;
}
