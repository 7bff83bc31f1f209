import type { Backend } from '../backend';

/**
 * A way to probe one backend (Pingora's `HealthCheck`). `LoadBalancer.runHealthCheck()`
 * calls `check()` once per backend per round and counts the outcome with
 * `healthThreshold()`: a backend changes state only after that many outcomes in a row that
 * disagree with its current state.
 */
export interface HealthCheck {
  /**
   * Probes `backend`. Resolves when it is healthy; rejects (ideally with a `ProxyError`
   * saying why) when it is not. Must settle on its own in bounded time (own timeout).
   * `signal` aborts when the load balancer's background service stops; the result of an
   * aborted round is discarded.
   */
  check(backend: Backend, signal?: AbortSignal): Promise<void>;
  /**
   * How many consecutive outcomes it takes to flip a backend: `healthThreshold(true)`
   * successes bring an unhealthy backend back, `healthThreshold(false)` failures take a
   * healthy one out. Values below 1 count as 1.
   */
  healthThreshold(success: boolean): number;
}
