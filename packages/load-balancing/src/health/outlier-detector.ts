import { ProxyError } from '@pingora-ts/core';
import type { Backend } from '../backend';
import type { Backends } from '../backends';
import type { RequestObserver, RequestOutcome } from '../load/request-observer';
import type { EjectionCause } from './ejection-cause';

export interface OutlierDetectorOptions {
  /** 5xx answers in a row that eject a backend; `0` turns this off. Default 5. */
  consecutive5xx?: number;
  /** Connect errors, timeouts and resets in a row that eject a backend; `0` turns this off. Default 5. */
  consecutiveConnectErrors?: number;
  /** First ejection time; the n-th ejection lasts n times this. Default 30000 ms. */
  baseEjectionMs?: number;
  /** Longest ejection time. Default 300000 ms. */
  maxEjectionMs?: number;
  /** Most backends ejected at once, in % of the list; an ejection over it does not happen. Default 50. */
  maxEjectionPercent?: number;
  /** The clock, epoch ms (tests pass their own). Default `Date.now`. */
  now?: () => number;
}

/** Per-backend counters, by address. */
interface OutlierState {
  fiveXx: number;
  connectErrors: number;
  /** Ejections so far, as counted at the last one (see `times`). */
  ejections: number;
  /** When it last came back (epoch ms); 0: never ejected. */
  returnedAt: number;
  timer: ReturnType<typeof setTimeout> | null;
}

/**
 * Passive health, after Envoy's outlier detection: watches the outcome of live requests
 * (through `RequestObserver`, fed by `LoadBalancer.requestEnded`) and ejects a backend that
 * fails `consecutive5xx` times in a row with a 5xx, or `consecutiveConnectErrors` times in a
 * row with a connect error, timeout or reset. An ejected backend is not ready (see
 * `Backends.setEjected`) for `baseEjectionMs` × the number of times it was ejected, at most
 * `maxEjectionMs`; that count drops by one for every `baseEjectionMs` it then stays in. It comes
 * back when the time is over, or earlier when an active health check passes. An ejection that
 * would put more than `maxEjectionPercent` % of the backends out at once does not happen.
 *
 * Add it with `LoadBalancerOptions.passiveHealth` (or `lb.observers.push(new OutlierDetector(lb.backends()))`).
 * Ejections and returns are `ejection` events of the `Backends` (and the `LoadBalancer`).
 */
export class OutlierDetector implements RequestObserver {
  readonly consecutive5xx: number;
  readonly consecutiveConnectErrors: number;
  readonly baseEjectionMs: number;
  readonly maxEjectionMs: number;
  readonly maxEjectionPercent: number;
  private readonly now: () => number;
  private readonly states = new Map<string, OutlierState>();
  /** Backends ejected now (kept by the `ejection` events, so checking the bound costs nothing). */
  private ejectedNow = 0;

  constructor(
    private readonly backends: Backends,
    opts: OutlierDetectorOptions = {},
  ) {
    this.consecutive5xx = count('consecutive5xx', opts.consecutive5xx ?? 5);
    this.consecutiveConnectErrors = count('consecutiveConnectErrors', opts.consecutiveConnectErrors ?? 5);
    this.baseEjectionMs = ms('baseEjectionMs', opts.baseEjectionMs ?? 30_000);
    this.maxEjectionMs = ms('maxEjectionMs', opts.maxEjectionMs ?? 300_000);
    if (this.maxEjectionMs < this.baseEjectionMs) {
      throw invalid(`maxEjectionMs (${this.maxEjectionMs}) must be >= baseEjectionMs (${this.baseEjectionMs})`);
    }
    const pct = opts.maxEjectionPercent ?? 50;
    if (!Number.isFinite(pct) || pct < 0 || pct > 100) throw invalid(`maxEjectionPercent must be from 0 to 100, got ${String(pct)}`);
    this.maxEjectionPercent = pct;
    this.now = opts.now ?? Date.now;
    for (const b of backends.items()) if (backends.isEjected(b)) this.ejectedNow++;
    backends.on('ejection', (b, ejected, _cause, untilMs) => this.onEjection(b, ejected, untilMs));
    backends.on('change', (list) => this.onChange(list));
  }

  requestStarted(_backend: Backend): void {}

  requestEnded(backend: Backend, outcome: RequestOutcome, _latencyMs: number): void {
    // Answers still arriving from an ejected (or removed) backend change nothing.
    if (this.backends.ejectedUntil(backend) !== 0 || this.backends.get(backend.key) === undefined) return;
    const st = this.state(backend.key);
    if (outcome === 'ok') {
      st.fiveXx = 0;
      st.connectErrors = 0;
    } else if (outcome === 'http_5xx') {
      st.connectErrors = 0;
      if (this.consecutive5xx > 0 && ++st.fiveXx >= this.consecutive5xx) this.eject(backend, st, 'consecutive_5xx');
    } else if (this.consecutiveConnectErrors > 0 && ++st.connectErrors >= this.consecutiveConnectErrors) {
      this.eject(backend, st, 'consecutive_connect_errors');
    }
  }

  /** How many times the backend has been ejected, as the next ejection's length counts it. */
  ejections(backend: Backend | string): number {
    const st = this.states.get(typeof backend === 'string' ? backend : backend.key);
    return st === undefined ? 0 : this.decayed(st);
  }

  /** Stops every return timer (the ejected backends stay ejected until someone lets them back). */
  close(): void {
    for (const st of this.states.values()) this.clearTimer(st);
  }

  private eject(backend: Backend, st: OutlierState, cause: EjectionCause): void {
    st.fiveXx = 0;
    st.connectErrors = 0;
    const total = this.backends.items().length;
    if ((this.ejectedNow + 1) * 100 > this.maxEjectionPercent * total) return;
    const times = this.decayed(st) + 1;
    const until = this.now() + Math.min(this.baseEjectionMs * times, this.maxEjectionMs);
    this.backends.setEjected(backend, until, cause);
  }

  /** Every ejection, this detector's or not (another process's, by hand): count it and time its end. */
  private onEjection(b: Backend, ejected: boolean, untilMs: number): void {
    const st = this.state(b.key);
    st.fiveXx = 0;
    st.connectErrors = 0;
    this.clearTimer(st);
    if (ejected) {
      this.ejectedNow++;
      st.ejections = this.decayed(st) + 1;
      this.armTimer(b.key, st, untilMs);
    } else {
      this.ejectedNow--;
      st.returnedAt = this.now();
    }
  }

  /** Lets the backend back at `untilMs`; an end moved later meanwhile re-arms the timer. */
  private armTimer(key: string, st: OutlierState, untilMs: number): void {
    st.timer = setTimeout(() => {
      st.timer = null;
      const until = this.backends.ejectedUntil(key);
      if (until === 0) return;
      if (until > this.now()) return this.armTimer(key, st, until);
      this.backends.setEjected(key, 0, 'expired');
    }, Math.min(Math.max(untilMs - this.now(), 0), 0x7fffffff));
    // Never what keeps a process alive.
    st.timer.unref?.();
  }

  private clearTimer(st: OutlierState): void {
    if (st.timer !== null) clearTimeout(st.timer);
    st.timer = null;
  }

  /** The ejection count, less one for every `baseEjectionMs` since the backend came back. */
  private decayed(st: OutlierState): number {
    if (st.ejections === 0 || st.returnedAt === 0) return st.ejections;
    return Math.max(0, st.ejections - Math.floor((this.now() - st.returnedAt) / this.baseEjectionMs));
  }

  /** Drops the state of removed backends; recounts the ejected ones. */
  private onChange(list: readonly Backend[]): void {
    const keys = new Set<string>();
    let ejected = 0;
    for (const b of list) {
      keys.add(b.key);
      if (this.backends.isEjected(b)) ejected++;
    }
    this.ejectedNow = ejected;
    for (const [key, st] of this.states) {
      if (keys.has(key)) continue;
      this.clearTimer(st);
      this.states.delete(key);
    }
  }

  private state(key: string): OutlierState {
    let st = this.states.get(key);
    if (st === undefined) {
      st = { fiveXx: 0, connectErrors: 0, ejections: 0, returnedAt: 0, timer: null };
      this.states.set(key, st);
    }
    return st;
  }
}

function invalid(message: string): ProxyError {
  return ProxyError.internal('ConfigError', `OutlierDetector: ${message}`);
}

function count(name: string, v: number): number {
  if (!Number.isInteger(v) || v < 0) throw invalid(`${name} must be an integer >= 0 (0: off), got ${String(v)}`);
  return v;
}

function ms(name: string, v: number): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) throw invalid(`${name} must be a positive number of ms, got ${String(v)}`);
  return v;
}
