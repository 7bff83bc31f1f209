import type { Backend } from '../backend';

/**
 * Where the list of backends comes from (Pingora's `ServiceDiscovery`). `Backends.update()`
 * calls `discover()` and replaces its list with the answer; a rejection leaves the old list
 * in place. Return each address once: later duplicates of a `key` are ignored.
 */
export interface Discovery {
  discover(): Promise<Backend[]>;
}
