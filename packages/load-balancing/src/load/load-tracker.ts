import type { Backend } from '../backend';
import type { LoadView, RequestObserver, RequestOutcome } from './request-observer';

/** Defaults of `LoadTracker`: Finagle's peak EWMA decays over 10 s. */
export const DEFAULT_EWMA_DECAY_MS = 10_000;

/** Per-backend counters, kept by address so they survive a discovery update. */
class BackendLoad {
  inflight = 0;
  /** Peak-EWMA latency in ms; 0 until the first sample. */
  ewma = 0;
  /** When `ewma` was last updated (ms, `now()` clock). */
  stamp = 0;
}

export interface LoadTrackerOptions {
  /** Time constant of the latency EWMA in ms (default 10 s): a sample this old weighs 1/e. */
  decayMs?: number;
  /** Clock in ms (tests pass their own); `performance.now` by default. */
  now?: () => number;
}

/**
 * Counts requests in flight and a peak-EWMA latency per backend: the `LoadView` that
 * `LeastConn` and `P2cEwma` read, fed through `RequestObserver`. Counters are kept by the
 * backend's `key`, so a backend that stays across a discovery update keeps them; `forget()`
 * drops those of removed backends once they are idle.
 */
export class LoadTracker implements RequestObserver, LoadView {
  private readonly loads = new Map<string, BackendLoad>();
  private readonly decayMs: number;
  private readonly now: () => number;

  constructor(opts: LoadTrackerOptions = {}) {
    this.decayMs = opts.decayMs ?? DEFAULT_EWMA_DECAY_MS;
    this.now = opts.now ?? (() => performance.now());
  }

  requestStarted(backend: Backend): void {
    this.load(backend).inflight++;
  }

  requestEnded(backend: Backend, _outcome: RequestOutcome, latencyMs: number): void {
    const l = this.load(backend);
    if (l.inflight > 0) l.inflight--;
    const now = this.now();
    const rtt = Math.max(0, latencyMs);
    if (l.stamp === 0 || rtt > l.ewma) {
      // Peak: a slower answer counts in full at once, so a backend that turns slow is avoided now.
      l.ewma = rtt;
    } else {
      const w = Math.exp(-(now - l.stamp) / this.decayMs);
      l.ewma = l.ewma * w + rtt * (1 - w);
    }
    l.stamp = now;
  }

  inflight(backend: Backend): number {
    return this.loads.get(backend.key)?.inflight ?? 0;
  }

  latencyMs(backend: Backend): number {
    return this.loads.get(backend.key)?.ewma ?? 0;
  }

  /** Drops the counters of backends not in `keep` that have nothing in flight. */
  forget(keep: readonly Backend[]): void {
    const keys = new Set(keep.map((b) => b.key));
    for (const [key, l] of this.loads) if (!keys.has(key) && l.inflight === 0) this.loads.delete(key);
  }

  private load(backend: Backend): BackendLoad {
    let l = this.loads.get(backend.key);
    if (l === undefined) {
      l = new BackendLoad();
      this.loads.set(backend.key, l);
    }
    return l;
  }
}
