import { EventEmitter } from 'node:events';
import { ProxyError, type BackgroundService, type Logger } from '@pingora-ts/core';
import { Backend } from './backend';
import { Backends, type BackendsDiff, type BackendsEvents } from './backends';
import { StaticDiscovery } from './discovery/static-discovery';
import { describeEjectionCause, type EjectionCause } from './health/ejection-cause';
import type { HealthCheck } from './health/health-check';
import { DEFAULT_HEALTH_CHECK_JITTER_PERCENT, HealthCheckScheduler } from './health/health-check-scheduler';
import { OutlierDetector, type OutlierDetectorOptions } from './health/outlier-detector';
import { Semaphore } from './internal/semaphore';
import { SerialRunner } from './internal/serial-runner';
import { LoadTracker } from './load/load-tracker';
import type { LoadView, RequestObserver, RequestOutcome } from './load/request-observer';
import { RoundRobin } from './selection/round-robin';
import type { SelectionAlgorithm, SelectionKey, Selector } from './selection/selection-algorithm';
import { EMPTY_ITER } from './selection/wrapping-iter';
import { LoadBalancerService } from './services/load-balancer-service';

export interface LoadBalancerOptions {
  /** How to pick among ready backends. Default: a new `RoundRobin`. */
  selection?: SelectionAlgorithm;
  /**
   * How to pick for a selection with an empty key (`''` or no bytes): a hashing `selection`
   * has nothing to hash then, and every such request would go to one backend. E.g. a
   * `RoundRobin` beside a `Ketama`. Default: none (`selection` picks for every key).
   */
  keylessSelection?: SelectionAlgorithm;
  /** The probe `runHealthCheck()` uses; none by default (every backend stays healthy). */
  healthCheck?: HealthCheck | null;
  /** How often the background service runs health checks; `null` (default): once, at start. */
  healthCheckFrequencyMs?: number | null;
  /** How often the background service runs discovery; `null` (default): once, at start. */
  updateFrequencyMs?: number | null;
  /**
   * `runHealthCheck()` checks all backends at once (`true`, at most `healthCheckConcurrency` at
   * a time) or one after the other (`false`, default). The background service always checks
   * each backend on its own timer.
   */
  parallelHealthCheck?: boolean;
  /** Most probes in flight at once, in rounds and in the background. Default 16. */
  healthCheckConcurrency?: number;
  /** The background service's interval spread: each wait is `healthCheckFrequencyMs` ± this %. Default 10. */
  healthCheckJitterPercent?: number;
  /**
   * A probe that has not settled after this long counts as a failure (`ReadTimedout`) and its
   * signal aborts: a guard for checks without a timeout of their own. Default `null`: none
   * beyond the check's own.
   */
  healthCheckTimeoutMs?: number | null;
  /** Draws the jitter (tests pass their own). Default `Math.random`. */
  jitterRandom?: () => number;
  /** Passive health: an `OutlierDetector` with these options watches every reported request. Default: none. */
  passiveHealth?: OutlierDetectorOptions;
  /**
   * Where health changes and discovery failures are logged: `warn` when a backend becomes
   * unhealthy or is ejected, `info` when it comes back, `error` when discovery fails in the background.
   * Default: nothing is logged.
   */
  logger?: Logger;
  /** Counts in-flight requests and latency per backend (default: a new `LoadTracker`). */
  loadTracker?: LoadTracker;
  /**
   * How backends that join the list start: healthy (`true`, default) or unhealthy until
   * their first health check passes (`false`). Sets `Backends.newBackendsHealthy`.
   */
  newBackendsHealthy?: boolean;
}

/**
 * Events of a `LoadBalancer`: the `Backends` events, forwarded (see `BackendsEvents`), and
 * `drained` `(backend)`: a backend that left the list has no request in flight any more (at
 * once when it had none; counted through `requestStarted` / `requestEnded`).
 */
export type LoadBalancerEvents = BackendsEvents & { drained: [backend: Backend] };

/** Passed to the `accept` of `selectWith()`-like walks: plain `select()` takes healthy only. */
const READY_ONLY = (_b: Backend, healthy: boolean): boolean => healthy;

/**
 * Picks a backend for each request among a changing, health-checked set (Pingora's
 * `LoadBalancer<S>`).
 *
 * It owns a `Backends` (discovery + health map) and a `Selector` built by its
 * `SelectionAlgorithm` over the backends that are ready. The selector is rebuilt, lazily on
 * the next selection, whenever the list or any backend's readiness changes, so an unhealthy
 * backend simply leaves the rotation and the others keep their weights.
 *
 * Keep it fresh by calling `update()` and `runHealthCheck()` yourself, or run
 * `backgroundService()` (in a pingora-ts `Server`, or alone with an `AbortController`).
 *
 * Events: `health` `(backend, healthy, error)` when a backend changes state, `change`
 * `(backends)` when the list changes, `ejection` `(backend, ejected, cause, untilMs)` when
 * passive health ejects a backend or lets it back. It never emits `error`.
 */
export class LoadBalancer extends EventEmitter<LoadBalancerEvents> implements RequestObserver {
  /** The algorithm the selectors are built with. */
  readonly selection: SelectionAlgorithm;
  /** In-flight requests and latency per backend, as reported through `requestStarted` / `requestEnded`. */
  readonly load: LoadTracker;
  /** Told of every request after `load` (passive health, metrics); add your own. */
  readonly observers: RequestObserver[] = [];
  /** `runHealthCheck()` checks all backends at once (`true`) or one after the other (`false`). */
  parallelHealthCheck: boolean;
  /** Each background wait is `healthCheckFrequencyMs` ± this % (0–100). */
  healthCheckJitterPercent: number;
  /** Passive health, when `passiveHealth` was given (it is also in `observers`). */
  readonly outlierDetector: OutlierDetector | null;

  private readonly set: Backends;
  private readonly logger: Logger;
  private hc: HealthCheck | null;
  private hcFrequency: number | null = null;
  private updFrequency: number | null = null;
  private builtAt = -1;
  /** The selectors of `selection`, and of `keylessSelection` (or null), for the current generation. */
  private primary: Selectors;
  private readonly keyless: Selectors | null;
  /** Backends that left the list with requests in flight, by key, until they end. */
  private readonly draining = new Map<string, Backend>();
  private readonly checker = new SerialRunner<AbortSignal | undefined>((signal) => this.checkRound(signal));
  /** Bounds the probes in flight (`healthCheckConcurrency`). */
  private readonly slots: Semaphore;
  private hcTimeout: number | null = null;
  /** Backend key → its probe in flight (a backend is never probed twice at once). */
  private readonly probing = new Map<string, Promise<void>>();
  private readonly scheduler: HealthCheckScheduler;

  /**
   * A load balancer over a fixed list (a `StaticDiscovery`), ready to select at once.
   * Strings are addresses with weight 1. Throws on an invalid address.
   */
  static fromBackends(backends: readonly (Backend | string)[], opts: LoadBalancerOptions = {}): LoadBalancer {
    const list = backends.map((b) => (typeof b === 'string' ? new Backend(b) : b));
    const set = new Backends(new StaticDiscovery(list), opts.newBackendsHealthy === undefined ? {} : { newBackendsHealthy: opts.newBackendsHealthy });
    set.replace(list);
    return new LoadBalancer(set, opts);
  }

  /**
   * A load balancer over `backends`. It selects among `backends.items()` as they are now
   * (possibly none): call `update()` first when the list still has to be discovered.
   */
  constructor(backends: Backends, opts: LoadBalancerOptions = {}) {
    super();
    this.set = backends;
    this.selection = opts.selection ?? new RoundRobin();
    this.primary = new Selectors(this.selection);
    this.keyless = opts.keylessSelection === undefined ? null : new Selectors(opts.keylessSelection);
    this.hc = opts.healthCheck ?? null;
    this.healthCheckFrequencyMs = opts.healthCheckFrequencyMs ?? null;
    this.updateFrequencyMs = opts.updateFrequencyMs ?? null;
    this.parallelHealthCheck = opts.parallelHealthCheck ?? false;
    this.slots = new Semaphore(1);
    this.healthCheckConcurrency = opts.healthCheckConcurrency ?? 16;
    this.healthCheckJitterPercent = opts.healthCheckJitterPercent ?? DEFAULT_HEALTH_CHECK_JITTER_PERCENT;
    if (!(this.healthCheckJitterPercent >= 0 && this.healthCheckJitterPercent <= 100)) {
      throw ProxyError.internal('ConfigError', `LoadBalancer: healthCheckJitterPercent must be from 0 to 100, got ${String(opts.healthCheckJitterPercent)}`);
    }
    this.healthCheckTimeoutMs = opts.healthCheckTimeoutMs ?? null;
    this.scheduler = new HealthCheckScheduler(this, opts.jitterRandom ?? Math.random);
    this.logger = opts.logger ?? NO_LOGGER;
    this.load = opts.loadTracker ?? new LoadTracker();
    if (opts.newBackendsHealthy !== undefined) backends.newBackendsHealthy = opts.newBackendsHealthy;
    backends.on('health', (b, healthy, error) => this.onHealth(b, healthy, error));
    backends.on('change', (list, diff) => this.onChange(list, diff));
    backends.on('ejection', (b, ejected, cause, untilMs) => this.onEjection(b, ejected, cause, untilMs));
    this.outlierDetector = opts.passiveHealth === undefined ? null : new OutlierDetector(backends, opts.passiveHealth);
    if (this.outlierDetector) this.observers.push(this.outlierDetector);
  }

  /**
   * A request to `backend` starts: counted in flight (for `least_conn`, `p2c_ewma`) until
   * the matching `requestEnded`. Callers that pick with `select()` and send the request
   * themselves report here; the proxy and `BalancedDispatcher` do it for you.
   */
  requestStarted(backend: Backend): void {
    this.load.requestStarted(backend);
    for (const o of this.observers) o.requestStarted(backend);
  }

  /** The request started on `backend` ended (see `RequestObserver.requestEnded`). */
  requestEnded(backend: Backend, outcome: RequestOutcome, latencyMs: number): void {
    this.load.requestEnded(backend, outcome, latencyMs);
    for (const o of this.observers) o.requestEnded(backend, outcome, latencyMs);
    if (this.draining.size !== 0 && this.load.inflight(backend) === 0 && this.draining.delete(backend.key)) {
      this.load.forget(this.set.items());
      this.emit('drained', backend);
    }
  }

  /**
   * Adds a backend at run time (or replaces the one with its address): it takes traffic
   * from the next selection (or after its first health check, see `newBackendsHealthy`).
   * Kept through discovery updates until `removeBackend` (see `Backends.addBackend`).
   * Emits `change` and returns `true` when the list changed.
   */
  addBackend(backend: Backend | string): boolean {
    return this.set.addBackend(typeof backend === 'string' ? new Backend(backend) : backend);
  }

  /**
   * Removes a backend at run time: no new request goes to it, requests in flight finish
   * (`drained` follows when the last one ends). It stays out even when discovery lists it,
   * until `addBackend` or `backends().clearOverrides()`. Returns `true` when it was in the list.
   */
  removeBackend(addr: Backend | string): boolean {
    return this.set.removeBackend(addr);
  }

  /** Lets a disabled backend take traffic again (when healthy). Returns `true` when it changed. */
  enable(addr: Backend | string): boolean {
    return this.set.setEnabled(addr, true);
  }

  /**
   * Takes a backend out of selection while keeping it in the list (and health-checked):
   * requests in flight finish. Kept through discovery updates until `enable`. Returns
   * `true` when it changed.
   */
  disable(addr: Backend | string): boolean {
    return this.set.setEnabled(addr, false);
  }

  /**
   * Changes a backend's weight at run time (kept through discovery updates); in-flight
   * requests and its counters are kept. Throws a `ConfigError` on a bad weight; returns
   * `true` when the weight changed.
   */
  setWeight(addr: Backend | string, weight: number): boolean {
    return this.set.setWeight(addr, weight);
  }

  /** How often the background service runs health checks, in ms; `null`: only once, at start. */
  get healthCheckFrequencyMs(): number | null {
    return this.hcFrequency;
  }
  set healthCheckFrequencyMs(ms: number | null) {
    this.hcFrequency = frequency('healthCheckFrequencyMs', ms);
  }

  /** Most probes in flight at once (an integer >= 1). */
  get healthCheckConcurrency(): number {
    return this.slots.limit;
  }
  set healthCheckConcurrency(n: number) {
    if (!Number.isInteger(n) || n < 1) {
      throw ProxyError.internal('ConfigError', `LoadBalancer: healthCheckConcurrency must be an integer >= 1, got ${String(n)}`);
    }
    this.slots.limit = n;
  }

  /** A probe that has not settled after this many ms is a failure; `null`: the check's own timeout only. */
  get healthCheckTimeoutMs(): number | null {
    return this.hcTimeout;
  }
  set healthCheckTimeoutMs(ms: number | null) {
    this.hcTimeout = frequency('healthCheckTimeoutMs', ms);
  }

  /** How often the background service runs discovery, in ms; `null`: only once, at start. */
  get updateFrequencyMs(): number | null {
    return this.updFrequency;
  }
  set updateFrequencyMs(ms: number | null) {
    this.updFrequency = frequency('updateFrequencyMs', ms);
  }

  /** The backends and their health. */
  backends(): Backends {
    return this.set;
  }

  /** The health check in use, if any. */
  healthCheck(): HealthCheck | null {
    return this.hc;
  }

  /** Sets (or, with `null`, removes) the health check used by `runHealthCheck()`. */
  setHealthCheck(hc: HealthCheck | null): void {
    this.hc = hc;
  }

  /**
   * The first ready backend the algorithm yields for `key` within `maxIterations`
   * candidates, or `null` when there is none (no backends, none ready, `maxIterations` < 1).
   */
  select(key: SelectionKey, maxIterations: number): Backend | null {
    return this.walk(key, maxIterations, READY_ONLY, false);
  }

  /**
   * Like `select`, but `accept(backend, healthy)` decides; the first accepted candidate is
   * returned. Ready backends come first, in the algorithm's order, then (while iterations
   * remain) the others with `healthy === false`. Use it to skip backends a request already
   * tried, or to fall back to unhealthy ones. `accept` is called at most `maxIterations` times.
   */
  selectWith(key: SelectionKey, maxIterations: number, accept: (backend: Backend, healthy: boolean) => boolean): Backend | null {
    return this.walk(key, maxIterations, accept, true);
  }

  private walk(key: SelectionKey, maxIterations: number, accept: (b: Backend, healthy: boolean) => boolean, others: boolean): Backend | null {
    if (this.builtAt !== this.set.generation) this.rebuild();
    const sel = this.keyless !== null && key.length === 0 ? this.keyless : this.primary;
    const set = this.set;
    const load: LoadView = this.load;
    let left = maxIterations;
    // Ready backends first, in the algorithm's order; with `overAll` the one selector holds all,
    // and the others come from a second walk over it.
    let it = sel.ready(load).iter(key);
    while (left > 0) {
      const b = it.next();
      if (b === null) break;
      const ready = set.ready(b);
      if (!ready && sel.overAll) continue; // skipped, not looked at: the others' walk comes later
      left--;
      if (accept(b, ready)) return b;
    }
    if (!others) return null;
    it = sel.overAll ? sel.ready(load).iter(key) : sel.other(load).iter(key);
    while (left > 0) {
      const b = it.next();
      if (b === null) break;
      const ready = set.ready(b);
      if (sel.overAll && ready) continue; // seen in the first walk
      left--;
      if (accept(b, ready)) return b;
    }
    return null;
  }

  /** Splits the list into ready / not ready for the selectors, which build lazily. */
  private rebuild(): void {
    const ready: Backend[] = [];
    const other: Backend[] = [];
    const all = this.set.items();
    for (const b of all) (this.set.ready(b) ? ready : other).push(b);
    this.builtAt = this.set.generation;
    this.primary.reset(all, ready, other);
    this.keyless?.reset(all, ready, other);
  }

  /**
   * Runs discovery and applies the new list (keeping the health of backends that stay);
   * the selector is rebuilt when the list changed. Rejects when discovery rejects.
   */
  update(): Promise<void> {
    return this.set.update();
  }

  /**
   * Checks every backend once with the health check (all at once when
   * `parallelHealthCheck`, at most `healthCheckConcurrency` at a time), counts each outcome
   * against the check's thresholds, and emits `health` for each backend that flips (the
   * selector is rebuilt on the next selection). A passed check lets an ejected backend back.
   * Does nothing without a health check. Rounds never overlap, nor two probes of one backend:
   * a call made during a round waits for it and then runs its own. `signal` aborts the probes;
   * an aborted round changes nothing.
   */
  runHealthCheck(signal?: AbortSignal): Promise<void> {
    return this.checker.run(signal);
  }

  /**
   * Checks each backend on a timer of its own until `signal` aborts: at once, then every
   * `healthCheckFrequencyMs` ± `healthCheckJitterPercent` %, with at most
   * `healthCheckConcurrency` probes in flight; backends that discovery adds get a timer, removed
   * ones lose theirs. Resolves after the abort, once the probes in flight have settled. The
   * background service runs it when `healthCheckFrequencyMs` is set.
   */
  runHealthChecks(signal: AbortSignal): Promise<void> {
    return this.scheduler.run(signal);
  }

  private async checkRound(signal: AbortSignal | undefined): Promise<void> {
    if (!this.hc || signal?.aborted) return;
    const items = this.set.items();
    if (this.parallelHealthCheck) {
      await Promise.all(items.map((b) => this.probe(b, signal)));
    } else {
      for (const b of items) {
        if (signal?.aborted) return;
        await this.probe(b, signal);
      }
    }
    if (this.builtAt !== this.set.generation) this.rebuild();
  }

  /**
   * Probes `b` once and counts the outcome (rejects only when a `health` or `ejection` listener
   * throws). Waits for a probe of `b` already in flight, then for a free slot. @internal (the
   * scheduler's way in)
   */
  probe(b: Backend, signal: AbortSignal | undefined): Promise<void> {
    const prev = this.probing.get(b.key);
    const run = (): Promise<void> => this.probeNow(b, signal);
    // After the previous probe however it ended (a throwing 'health' listener rejects it).
    const p = prev === undefined ? run() : prev.then(run, run);
    this.probing.set(b.key, p);
    const forget = (): void => {
      if (this.probing.get(b.key) === p) this.probing.delete(b.key);
    };
    // then(f, f), not finally: the derived promise must not reject unhandled.
    p.then(forget, forget);
    return p;
  }

  private async probeNow(b: Backend, signal: AbortSignal | undefined): Promise<void> {
    const hc = this.hc;
    if (!hc || signal?.aborted) return;
    await this.slots.acquire();
    try {
      if (signal?.aborted) return;
      // Only an ejection that began before the probe ends with it (not one that began during it).
      const ejectedUntil = this.set.ejectedUntil(b);
      const error = await this.checkOnce(hc, b, signal);
      if (signal?.aborted) return;
      const success = error === undefined;
      this.set.observeHealth(b, success, hc.healthThreshold(success), error);
      if (success && ejectedUntil !== 0 && this.set.ejectedUntil(b) === ejectedUntil) this.set.setEjected(b, 0, 'active_check');
    } finally {
      this.slots.release();
    }
  }

  /** Runs the check; resolves with why it failed (or `undefined`), within `healthCheckTimeoutMs` when set. */
  private checkOnce(hc: HealthCheck, b: Backend, signal: AbortSignal | undefined): Promise<Error | undefined> {
    const timeout = this.hcTimeout;
    if (timeout === null) return hc.check(b, signal).then(() => undefined, toError);
    const ac = new AbortController();
    const onAbort = (): void => ac.abort();
    signal?.addEventListener('abort', onAbort, { once: true });
    return new Promise<Error | undefined>((resolve) => {
      const timer = setTimeout(() => {
        ac.abort();
        resolve(ProxyError.upstream('ReadTimedout', `health check of ${b.addr} timed out after ${timeout} ms`, undefined, b.addr));
      }, timeout);
      void hc
        .check(b, ac.signal)
        .then(() => undefined, toError)
        .then((r) => {
          clearTimeout(timer);
          signal?.removeEventListener('abort', onAbort);
          resolve(r);
        });
    });
  }

  /**
   * A background service that runs `update()` at once and every `updateFrequencyMs` (and on
   * each change a watching discovery reports), and the health checks: each backend on its own
   * jittered timer with `healthCheckFrequencyMs`, else one round at start. Until its signal
   * aborts; see `LoadBalancerService`.
   */
  backgroundService(name = 'load balancer'): BackgroundService {
    return new LoadBalancerService(this, name, this.logger);
  }

  private onChange(list: readonly Backend[], diff: BackendsDiff): void {
    for (const b of diff.added) this.draining.delete(b.key);
    const idle: Backend[] = [];
    for (const b of diff.removed) {
      if (this.load.inflight(b) > 0) this.draining.set(b.key, b);
      else idle.push(b);
    }
    this.load.forget(list);
    this.emit('change', list, diff);
    for (const b of idle) this.emit('drained', b);
  }

  private onHealth(b: Backend, healthy: boolean, error: Error | undefined): void {
    if (healthy) {
      this.logger.info({ backend: b.addr }, `backend ${b.addr} is healthy again`);
    } else {
      const fields: { backend: string; err?: Error } = { backend: b.addr };
      if (error) fields.err = error;
      this.logger.warn(fields, `backend ${b.addr} became unhealthy${error ? `: ${error.message}` : ''}`);
    }
    this.emit('health', b, healthy, error);
  }

  private onEjection(b: Backend, ejected: boolean, cause: EjectionCause, untilMs: number): void {
    if (ejected) {
      const ms = Math.max(0, Math.round(untilMs - Date.now()));
      this.logger.warn({ backend: b.addr, cause, ejectedMs: ms }, `backend ${b.addr} ejected for ${ms} ms: ${describeEjectionCause(cause)}`);
    } else {
      this.logger.info({ backend: b.addr, cause }, `backend ${b.addr} is back from ejection: ${describeEjectionCause(cause)}`);
    }
    this.emit('ejection', b, ejected, cause, untilMs);
  }
}

function toError(err: unknown): Error {
  return err instanceof Error || ProxyError.isProxyError(err) ? (err as Error) : new Error(String(err));
}

const EMPTY_SELECTOR: Selector = { iter: () => EMPTY_ITER };

/**
 * One algorithm's selectors over the current split, each built on first use: the ones over
 * the backends not ready are needed only when a `selectWith` walks past every ready one.
 */
class Selectors {
  readonly overAll: boolean;
  private readyList: readonly Backend[] = [];
  private otherList: readonly Backend[] = [];
  private readySel: Selector | null = EMPTY_SELECTOR;
  private otherSel: Selector | null = EMPTY_SELECTOR;

  constructor(private readonly algorithm: SelectionAlgorithm) {
    this.overAll = algorithm.overAll === true;
  }

  reset(all: readonly Backend[], ready: readonly Backend[], other: readonly Backend[]): void {
    this.readyList = this.overAll ? all : ready;
    this.otherList = this.overAll ? [] : other;
    this.readySel = null;
    this.otherSel = null;
  }

  /** Over the ready backends (over all of them with `overAll`). */
  ready(load: LoadView): Selector {
    return (this.readySel ??= this.readyList.length > 0 ? this.algorithm.build(this.readyList, load) : EMPTY_SELECTOR);
  }

  /** Over the backends not ready (none with `overAll`). */
  other(load: LoadView): Selector {
    return (this.otherSel ??= this.otherList.length > 0 ? this.algorithm.build(this.otherList, load) : EMPTY_SELECTOR);
  }
}

const noop = (): void => {};
/** Logs nothing (core's `silentLogger`, kept local so no runtime import is needed for it). */
const NO_LOGGER: Logger = { error: noop, warn: noop, info: noop, debug: noop };

function frequency(name: string, ms: number | null): number | null {
  if (ms === null) return null;
  if (typeof ms !== 'number' || !Number.isFinite(ms) || ms <= 0) {
    throw ProxyError.internal('ConfigError', `LoadBalancer: ${name} must be a positive number of ms or null, got ${String(ms)}`);
  }
  return ms;
}
