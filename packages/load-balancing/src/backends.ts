import { EventEmitter } from 'node:events';
import type { Backend } from './backend';
import type { Discovery } from './discovery/discovery';
import type { EjectionCause } from './health/ejection-cause';
import { HealthStatus } from './health/health-status';
import { SerialRunner } from './internal/serial-runner';

/** Events of `Backends` (and, forwarded, of `LoadBalancer`). */
export type BackendsEvents = {
  /**
   * A backend changed state: `healthy` is the new state. `error` is why the last check
   * failed when it became unhealthy through a health check, else `undefined`.
   */
  health: [backend: Backend, healthy: boolean, error: Error | undefined];
  /** The list of backends changed (after `update()` or `replace()`); `backends` is the new list. */
  change: [backends: readonly Backend[]];
  /**
   * Passive health ejected a backend (`ejected`, until `untilMs`, epoch ms) or let it back
   * (`untilMs` 0); `cause` says why. See `setEjected` and `OutlierDetector`.
   */
  ejection: [backend: Backend, ejected: boolean, cause: EjectionCause, untilMs: number];
};

/**
 * The set of backends of one load balancer and the health of each (Pingora's `Backends`).
 *
 * The list comes from a `Discovery` and is replaced on `update()`; the health state of a
 * backend that stays (same `key`) is kept, new backends start healthy and enabled. A
 * backend can receive traffic when it is `ready`: healthy, enabled and not ejected.
 *
 * Every change of the list or of a backend's readiness bumps `generation`, which is how a
 * `LoadBalancer` knows to rebuild its selector.
 */
export class Backends extends EventEmitter<BackendsEvents> {
  /** Where `update()` gets the list from. */
  readonly discovery: Discovery;
  private list: readonly Backend[] = Object.freeze([]);
  /** key → the backend in `list` and its health. */
  private entries = new Map<string, Entry>();
  private gen = 0;
  private readonly updater = new SerialRunner<void>(() => this.runUpdate());

  constructor(discovery: Discovery) {
    super();
    this.discovery = discovery;
  }

  /**
   * Asks the discovery for the current list and applies it with `replace()`. Rejects (and
   * keeps the old list) when discovery rejects. Calls never overlap: a call made during
   * another waits for it and then runs its own discovery.
   */
  update(): Promise<void> {
    return this.updater.run();
  }

  private async runUpdate(): Promise<void> {
    const found = await this.discovery.discover();
    this.replace(found);
  }

  /**
   * Replaces the list now (what `update()` does with discovery's answer). Later duplicates
   * of an address are dropped. Health state is kept for addresses that stay. When the new
   * list has the same addresses and weights in the same order, nothing changes (the old
   * `Backend` objects are kept) and this returns `false`; otherwise it emits `change` and
   * returns `true`.
   */
  replace(backends: Iterable<Backend>): boolean {
    const next: Backend[] = [];
    const seen = new Set<string>();
    for (const b of backends) {
      if (seen.has(b.key)) continue;
      seen.add(b.key);
      next.push(b);
    }
    if (sameList(this.list, next)) return false;
    const entries = new Map<string, Entry>();
    for (const b of next) entries.set(b.key, { backend: b, status: this.entries.get(b.key)?.status ?? new HealthStatus() });
    this.list = Object.freeze(next);
    this.entries = entries;
    this.gen++;
    this.emit('change', this.list);
    return true;
  }

  /** The current backends, in discovery order (an immutable snapshot). */
  items(): readonly Backend[] {
    return this.list;
  }

  /** The backend with this address, if it is in the list. */
  get(addr: string): Backend | undefined {
    return this.entries.get(addr)?.backend;
  }

  /** Healthy, enabled and not ejected, so it may receive traffic. `false` for a backend not in the list. */
  ready(backend: Backend | string): boolean {
    return this.entries.get(keyOf(backend))?.status.ready ?? false;
  }

  /** Whether the backend is healthy (as far as checks know). `false` when not in the list. */
  isHealthy(backend: Backend | string): boolean {
    return this.entries.get(keyOf(backend))?.status.healthy ?? false;
  }

  /** Whether the backend is enabled. `false` when not in the list. */
  isEnabled(backend: Backend | string): boolean {
    return this.entries.get(keyOf(backend))?.status.enabled ?? false;
  }

  /**
   * Sets the health of a backend by hand (forgetting any count of consecutive outcomes).
   * Emits `health` and returns `true` when the state changed; ignores unknown backends.
   */
  setHealth(backend: Backend | string, healthy: boolean): boolean {
    const entry = this.entries.get(keyOf(backend));
    if (!entry || !entry.status.set(healthy)) return false;
    this.flipped(entry.backend, healthy, undefined);
    return true;
  }

  /**
   * Enables or disables a backend (a disabled backend is not ready, whatever its health;
   * e.g. to drain it). Returns `true` when the state changed; ignores unknown backends.
   */
  setEnabled(backend: Backend | string, enabled: boolean): boolean {
    const status = this.entries.get(keyOf(backend))?.status;
    if (!status || status.enabled === enabled) return false;
    status.enabled = enabled;
    this.gen++;
    return true;
  }

  /** Whether passive health has ejected the backend. `false` when not in the list. */
  isEjected(backend: Backend | string): boolean {
    return (this.entries.get(keyOf(backend))?.status.ejectedUntil ?? 0) !== 0;
  }

  /** Until when (epoch ms) the backend is ejected; 0 when it is not (or not in the list). */
  ejectedUntil(backend: Backend | string): number {
    return this.entries.get(keyOf(backend))?.status.ejectedUntil ?? 0;
  }

  /**
   * Ejects the backend until `untilMs` (epoch ms, > 0), or lets it back (`untilMs` 0). An
   * ejected backend is not ready, whatever its health. Nothing here runs a timer: the caller
   * (an `OutlierDetector`) lets it back when the time is over. Emits `ejection` and returns
   * `true` when the backend went out or came back; changing the end of a running ejection
   * returns `false` and emits nothing. Ignores unknown backends.
   */
  setEjected(backend: Backend | string, untilMs: number, cause: EjectionCause): boolean {
    const entry = this.entries.get(keyOf(backend));
    if (!entry) return false;
    const status = entry.status;
    const until = untilMs > 0 ? untilMs : 0;
    const was = status.ejectedUntil !== 0;
    status.ejectedUntil = until;
    if (was === (until !== 0)) return false;
    this.gen++;
    this.emit('ejection', entry.backend, until !== 0, cause, until);
    return true;
  }

  /**
   * Counts one health-check outcome for a backend (see `HealthCheck.healthThreshold`).
   * Emits `health` and returns `true` when this outcome flipped its state; ignores unknown
   * backends (e.g. removed while being checked).
   */
  observeHealth(backend: Backend | string, success: boolean, threshold: number, error?: Error): boolean {
    const entry = this.entries.get(keyOf(backend));
    if (!entry || !entry.status.observe(success, threshold)) return false;
    this.flipped(entry.backend, success, success ? undefined : error);
    return true;
  }

  /**
   * A number that changes whenever the list or the readiness of any backend changes, so a
   * selector built at one generation can tell it is stale.
   */
  get generation(): number {
    return this.gen;
  }

  private flipped(backend: Backend, healthy: boolean, error: Error | undefined): void {
    this.gen++;
    this.emit('health', backend, healthy, error);
  }
}

interface Entry {
  readonly backend: Backend;
  readonly status: HealthStatus;
}

function keyOf(backend: Backend | string): string {
  return typeof backend === 'string' ? backend : backend.key;
}

function sameList(a: readonly Backend[], b: readonly Backend[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    const y = b[i]!;
    if (x.key !== y.key || x.weight !== y.weight) return false;
  }
  return true;
}
