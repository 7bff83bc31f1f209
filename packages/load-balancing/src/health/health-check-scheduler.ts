import type { Backend } from '../backend';
import type { Backends } from '../backends';

/** The default spread of health-check intervals: ±10 %. */
export const DEFAULT_HEALTH_CHECK_JITTER_PERCENT = 10;

/**
 * The wait before a backend's next probe: `intervalMs` ± `jitterPercent` %, uniformly, from a
 * draw `r` in [0, 1). Spreading the probes keeps a thousand backends from being probed in the
 * same millisecond every interval (and the backends from seeing their checks in lockstep).
 */
export function jitteredInterval(intervalMs: number, jitterPercent: number, r: number): number {
  const j = Math.min(Math.max(jitterPercent, 0), 100) / 100;
  return intervalMs * (1 + j * (2 * r - 1));
}

/** What the scheduler needs from its load balancer. */
export interface HealthCheckSchedulerHost {
  backends(): Backends;
  /** Probes one backend and counts the outcome. */
  probe(backend: Backend, signal: AbortSignal): Promise<void>;
  /** The interval, read before every wait; `null` stops rescheduling. */
  readonly healthCheckFrequencyMs: number | null;
  readonly healthCheckJitterPercent: number;
}

/**
 * Checks each backend on a timer of its own: at once when it appears, then every
 * `healthCheckFrequencyMs` ± jitter, counted from the start of its previous probe (a probe
 * that outlasts the interval is followed at once by the next, never overlapped). Backends
 * added by discovery get a timer, removed ones lose theirs. Internal to `LoadBalancer`.
 */
export class HealthCheckScheduler {
  /** Backend key → its current timer; the entry object tells a stale probe from the current one. */
  private readonly timers = new Map<string, { timer: ReturnType<typeof setTimeout> }>();
  private readonly inFlight = new Set<Promise<void>>();

  constructor(
    private readonly host: HealthCheckSchedulerHost,
    private readonly random: () => number,
  ) {}

  /** Runs until `signal` aborts, then clears its timers and waits for the probes in flight. */
  async run(signal: AbortSignal): Promise<void> {
    if (signal.aborted) return;
    const backends = this.host.backends();
    const onChange = (list: readonly Backend[]): void => this.sync(list, signal);
    backends.on('change', onChange);
    this.sync(backends.items(), signal);
    try {
      await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
    } finally {
      backends.off('change', onChange);
      for (const t of this.timers.values()) clearTimeout(t.timer);
      this.timers.clear();
      await Promise.all([...this.inFlight]);
    }
  }

  /** Starts a timer for each new backend (probing at once) and stops those of removed ones. */
  private sync(list: readonly Backend[], signal: AbortSignal): void {
    const keep = new Set<string>();
    for (const b of list) {
      keep.add(b.key);
      if (!this.timers.has(b.key)) this.schedule(b, 0, signal);
    }
    for (const [key, t] of this.timers) {
      if (keep.has(key)) continue;
      clearTimeout(t.timer);
      this.timers.delete(key);
    }
  }

  private schedule(b: Backend, delayMs: number, signal: AbortSignal): void {
    const entry = { timer: undefined as unknown as ReturnType<typeof setTimeout> };
    entry.timer = setTimeout(() => void this.fire(b, entry, signal), Math.min(Math.max(delayMs, 0), 0x7fffffff));
    this.timers.set(b.key, entry);
  }

  private async fire(b: Backend, entry: { timer: ReturnType<typeof setTimeout> }, signal: AbortSignal): Promise<void> {
    const started = performance.now();
    // A rejection can only come from a throwing event listener: the timer goes on regardless.
    const p = this.host.probe(b, signal).catch(noop);
    this.inFlight.add(p);
    await p;
    this.inFlight.delete(p);
    // Removed (or removed and re-added) meanwhile, or stopping: this timer has no next probe.
    if (signal.aborted || this.timers.get(b.key) !== entry) return;
    const interval = this.host.healthCheckFrequencyMs;
    if (interval === null) {
      this.timers.delete(b.key);
      return;
    }
    const next = jitteredInterval(interval, this.host.healthCheckJitterPercent, this.random());
    this.schedule(b, started + next - performance.now(), signal);
  }
}

function noop(): void {}
