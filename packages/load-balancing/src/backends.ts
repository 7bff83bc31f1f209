import { EventEmitter } from 'node:events';
import type { Backend } from './backend';
import type { ServiceDiscovery } from './discovery/discovery';
import type { EjectionCause } from './health/ejection-cause';
import { HealthStatus } from './health/health-status';
import { ManualOverrides, withWeight } from './internal/manual-overrides';
import { SerialRunner } from './internal/serial-runner';

/** What one change of a `Backends` did (the second argument of its `change` event). */
export interface BackendsDiff {
  /** Backends that joined the list. */
  readonly added: readonly Backend[];
  /** Backends that left it (they drain: see `LoadBalancer`'s `drained` event). */
  readonly removed: readonly Backend[];
  /** Backends that stayed with another weight, or were enabled or disabled. */
  readonly updated: readonly Backend[];
}

export interface BackendsOptions {
  /**
   * How a backend that joins the list starts: `true` (default, as Pingora) healthy, taking
   * traffic at once; `false` unhealthy until its first health check passes (one pass is
   * enough for a new backend, whatever `consecutiveSuccess` says).
   */
  newBackendsHealthy?: boolean;
}

/** Events of `Backends` (and, forwarded, of `LoadBalancer`). */
export type BackendsEvents = {
  /**
   * A backend changed state: `healthy` is the new state. `error` is why the last check
   * failed when it became unhealthy through a health check, else `undefined`.
   */
  health: [backend: Backend, healthy: boolean, error: Error | undefined];
  /**
   * The list changed (after `update()`, `replace()` or a runtime change: add, remove, weight,
   * enable, disable); `backends` is the new list, `diff` what changed. One event per change,
   * which also bumps `generation` once.
   */
  change: [backends: readonly Backend[], diff: BackendsDiff];
  /**
   * Passive health ejected a backend (`ejected`, until `untilMs`, epoch ms) or let it back
   * (`untilMs` 0); `cause` says why. See `setEjected` and `OutlierDetector`.
   */
  ejection: [backend: Backend, ejected: boolean, cause: EjectionCause, untilMs: number];
};

/**
 * The set of backends of one load balancer and the health of each (Pingora's `Backends`).
 *
 * The list comes from a `ServiceDiscovery` and is replaced on `update()`; the health state
 * of a backend that stays (same `key`) is kept, new backends start enabled and healthy (or
 * not: `newBackendsHealthy`). A backend can receive traffic when it is `ready`: healthy,
 * enabled and not ejected.
 *
 * Changes made at run time (`addBackend`, `removeBackend`, `setWeight`, `setEnabled`) are
 * overlays on discovery's list, kept by address: they survive later discovery updates until
 * `clearOverrides()`. So a backend disabled for maintenance stays disabled when the next DNS
 * answer still lists it, and one added by hand stays when the next file does not list it.
 *
 * Every change of the list or of a backend's readiness bumps `generation`, which is how a
 * `LoadBalancer` knows to rebuild its selector.
 */
export class Backends extends EventEmitter<BackendsEvents> {
  /** Where `update()` gets the list from. */
  readonly discovery: ServiceDiscovery;
  /** How backends that join the list start (see `BackendsOptions`); read at each change. */
  newBackendsHealthy: boolean;
  private list: readonly Backend[] = Object.freeze([]);
  /** The last list from discovery (or `replace()`), before the manual overrides. */
  private discovered: readonly Backend[] = [];
  private readonly manual = new ManualOverrides();
  /** key → the backend in `list` and its health. */
  private entries = new Map<string, Entry>();
  private gen = 0;
  private readonly updater = new SerialRunner<void>(() => this.runUpdate());

  constructor(discovery: ServiceDiscovery, opts: BackendsOptions = {}) {
    super();
    this.discovery = discovery;
    this.newBackendsHealthy = opts.newBackendsHealthy ?? true;
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
   * Replaces the discovered list now (what `update()` does with discovery's answer), then
   * applies the manual overrides. Later duplicates of an address are dropped. Health state
   * is kept for addresses that stay. When the resulting list has the same addresses and
   * weights in the same order, nothing changes (the old `Backend` objects are kept) and this
   * returns `false`; otherwise it emits `change` once and returns `true`.
   */
  replace(backends: Iterable<Backend>): boolean {
    const next: Backend[] = [];
    const seen = new Set<string>();
    for (const b of backends) {
      if (seen.has(b.key)) continue;
      seen.add(b.key);
      next.push(b);
    }
    this.discovered = next;
    return this.apply([]);
  }

  /**
   * Adds a backend by hand (or replaces the one with its address, taking its weight). It
   * stays through discovery updates until `removeBackend` or `clearOverrides`. Returns
   * `true` when the list changed.
   */
  addBackend(backend: Backend): boolean {
    this.manual.added.set(backend.key, backend);
    this.manual.removed.delete(backend.key);
    this.manual.weights.delete(backend.key);
    return this.apply([]);
  }

  /**
   * Removes a backend by hand: it leaves selection at once (requests in flight finish) and
   * stays out, even when discovery lists it, until `addBackend` or `clearOverrides`.
   * Returns `true` when it was in the list.
   */
  removeBackend(backend: Backend | string): boolean {
    const key = keyOf(backend);
    this.manual.added.delete(key);
    this.manual.removed.add(key);
    return this.apply([]);
  }

  /**
   * Sets a backend's weight by hand (kept through discovery updates). Throws a `ConfigError`
   * on a weight that is not an integer in `[1, MAX_BACKEND_WEIGHT]`. Returns `true` when
   * the weight changed; ignores backends not in the list.
   */
  setWeight(backend: Backend | string, weight: number): boolean {
    const entry = this.entries.get(keyOf(backend));
    if (!entry) return false;
    withWeight(entry.backend, weight); // validates
    this.manual.weights.set(entry.backend.key, weight);
    return this.apply([]);
  }

  /**
   * Forgets the manual changes (all, or those of one address) and goes back to what
   * discovery says: added backends leave, removed ones come back, weights and enabled
   * states are discovery's again. Returns `true` when anything changed.
   */
  clearOverrides(backend?: Backend | string): boolean {
    const key = backend === undefined ? undefined : keyOf(backend);
    const reenabled: Backend[] = [];
    for (const k of key === undefined ? [...this.manual.disabled] : [key]) {
      const entry = this.entries.get(k);
      if (this.manual.disabled.has(k) && entry && !entry.status.enabled) {
        entry.status.enabled = true;
        reenabled.push(entry.backend);
      }
    }
    this.manual.clear(key);
    return this.apply(reenabled);
  }

  /**
   * Makes the list discovery's last answer with the overrides applied; `touched` are
   * backends whose enabled state already changed. Bumps the generation and emits `change`
   * once when anything changed.
   */
  private apply(touched: readonly Backend[]): boolean {
    const next = this.manual.apply(this.discovered);
    const sameBackends = sameList(this.list, next);
    if (sameBackends && touched.length === 0) return false;
    const added: Backend[] = [];
    const updated: Backend[] = [];
    const removed: Backend[] = [];
    if (!sameBackends) {
      const entries = new Map<string, Entry>();
      for (const b of next) {
        const old = this.entries.get(b.key);
        if (old === undefined) added.push(b);
        else if (old.backend.weight !== b.weight) updated.push(b);
        entries.set(b.key, { backend: b, status: old?.status ?? this.newStatus(b.key) });
      }
      for (const [key, old] of this.entries) if (!entries.has(key)) removed.push(old.backend);
      this.list = Object.freeze(next);
      this.entries = entries;
    }
    for (const b of touched) if (!updated.some((u) => u.key === b.key)) updated.push(this.entries.get(b.key)?.backend ?? b);
    this.gen++;
    this.emit('change', this.list, { added, removed, updated });
    return true;
  }

  private newStatus(key: string): HealthStatus {
    const status = new HealthStatus(this.newBackendsHealthy);
    if (this.manual.disabled.has(key)) status.enabled = false;
    return status;
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
   * e.g. to drain it: requests in flight finish). A manual change: it is kept by address
   * through discovery updates until `clearOverrides`. Emits `change` and returns `true`
   * when the state changed; ignores backends not in the list.
   */
  setEnabled(backend: Backend | string, enabled: boolean): boolean {
    const entry = this.entries.get(keyOf(backend));
    if (!entry) return false;
    if (enabled) this.manual.disabled.delete(entry.backend.key);
    else this.manual.disabled.add(entry.backend.key);
    if (entry.status.enabled === enabled) return false;
    entry.status.enabled = enabled;
    return this.apply([entry.backend]);
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
