import type { Backend } from '../backend';

/**
 * Where the list of backends comes from (Pingora's `ServiceDiscovery`). `Backends.update()`
 * calls `discover()` and replaces its list with the answer; a rejection leaves the old list
 * in place. Return each address once: later duplicates of a `key` are ignored.
 *
 * A source that knows when its answer changes (a watched file, a DNS answer whose TTL ran
 * out, a Consul blocking query) also implements `watch`: the load balancer's background
 * service calls it once when it starts and runs `update()` each time `changed()` is called,
 * besides every `updateFrequencyMs`. Without `watch`, the service only polls.
 */
export interface ServiceDiscovery {
  /** The current list. Rejects (ideally with a `ProxyError` saying why) when there is none to give. */
  discover(): Promise<Backend[]>;
  /**
   * Optional. Starts watching the source: call `changed()` whenever `discover()` would now
   * answer differently (calls may be spurious; an update with the same list changes
   * nothing). Stop, and release every timer and handle, when `signal` aborts. Must not throw
   * later: log problems and keep watching.
   */
  watch?(changed: () => void, signal: AbortSignal): void;
}

/** The former name of `ServiceDiscovery`, kept so existing code compiles. */
export type Discovery = ServiceDiscovery;
