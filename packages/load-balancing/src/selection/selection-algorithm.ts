import type { Backend } from '../backend';
import type { LoadView } from '../load/request-observer';

/**
 * What a request is balanced on: a hashing algorithm maps the same key to the same backend;
 * `RoundRobin` and `Random` ignore it (pass `''`).
 */
export type SelectionKey = string | Uint8Array;

/**
 * The candidates for one selection, best first. Each call to `next()` yields the next one to
 * try, or `null` when the algorithm has none left. The load balancer stops asking after
 * `maxIterations` calls, so an iterator may be long (or endless).
 */
export interface BackendIter {
  next(): Backend | null;
}

/**
 * An algorithm built over one list of backends (Pingora's `BackendSelection`). It may keep
 * state between calls (the round-robin position); it is rebuilt whenever the list or the
 * health of a backend changes.
 */
export interface Selector {
  /** Starts a selection for `key`; the first candidate is the algorithm's pick. */
  iter(key: SelectionKey): BackendIter;
}

/**
 * A selection algorithm: a factory of `Selector`s. `LoadBalancer` calls `build()` with the
 * backends that are ready (healthy, enabled, not ejected), in discovery order, every time
 * that set changes, and over the others when a caller of `selectWith` gets that far (or
 * once over all of them, with `overAll`).
 */
export interface SelectionAlgorithm {
  /** `load`: live in-flight counts and latencies, for algorithms that balance on load. */
  build(backends: readonly Backend[], load: LoadView): Selector;
  /**
   * Build once over every backend, ready or not, and let the balancer skip those not ready as
   * candidates come (Pingora's way). For modulo hashing (`FnvHash`), where a list one backend
   * shorter would move most keys when a single backend's health flips. Default false: built
   * over the ready backends only.
   */
  readonly overAll?: boolean;
}
