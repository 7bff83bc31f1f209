import { Backend } from '../backend';
import type { Discovery } from './discovery';

/**
 * A fixed list of backends that the program may still change at run time with `set`, `add`
 * and `remove` (the change reaches a `LoadBalancer` on its next `update()`).
 * Backends are kept in insertion order, one per address.
 */
export class StaticDiscovery implements Discovery {
  private readonly byKey = new Map<string, Backend>();

  constructor(backends: Iterable<Backend> = []) {
    this.set(backends);
  }

  /** A discovery over plain addresses, each with weight 1. Throws on an invalid address. */
  static fromAddrs(addrs: Iterable<string>): StaticDiscovery {
    const backends: Backend[] = [];
    for (const addr of addrs) backends.push(new Backend(addr));
    return new StaticDiscovery(backends);
  }

  /** Replaces the whole list. */
  set(backends: Iterable<Backend>): void {
    this.byKey.clear();
    for (const b of backends) this.add(b);
  }

  /** Adds a backend, or replaces the one with the same address (keeping its place). */
  add(backend: Backend): void {
    this.byKey.set(backend.key, backend);
  }

  /** Removes the backend with this address; `true` if there was one. */
  remove(backend: Backend | string): boolean {
    return this.byKey.delete(typeof backend === 'string' ? backend : backend.key);
  }

  /** The current list (a copy). */
  async discover(): Promise<Backend[]> {
    return [...this.byKey.values()];
  }
}
