/**
 * One unref'd interval that checks the deadlines of every connection of a pool (and of the
 * callers waiting for one), instead of a timer per connection re-armed per request (`socket.setTimeout` makes a new timer object each
 * time it changes). A deadline fires at most one tick late, never early.
 */

/** Something with a deadline the sweep checks. */
export interface TimeoutTarget {
  /** Called on every tick with `Date.now()`; fires the timeout when it is due. */
  checkTimeout(now: number): void;
}

/** Shortest and longest tick. */
const MIN_TICK_MS = 5;
const MAX_TICK_MS = 1000;

export class TimeoutSweep {
  private timer: NodeJS.Timeout | null = null;
  private tickMs = MAX_TICK_MS;

  /** `groups`: sets of targets (the pool's connections, its peers with waiters); it stops when all are empty. */
  constructor(private readonly groups: ReadonlyArray<ReadonlySet<TimeoutTarget>>) {}

  /**
   * A deadline `ms` away was armed: runs the sweep if it is stopped, and ticks at least every
   * `ms / 4` so the deadline fires at most a quarter late. Ticks only get shorter.
   */
  watch(ms: number): void {
    const tick = Math.max(MIN_TICK_MS, Math.min(MAX_TICK_MS, Math.floor(ms / 4)));
    if (this.timer !== null && tick >= this.tickMs) return;
    if (tick < this.tickMs) this.tickMs = tick;
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = setInterval(this.sweep, this.tickMs);
    this.timer.unref();
  }

  /** Stops ticking (it starts again on the next `watch`). */
  stop(): void {
    if (this.timer === null) return;
    clearInterval(this.timer);
    this.timer = null;
  }

  private readonly sweep = (): void => {
    let any = false;
    for (const g of this.groups) if (g.size > 0) any = true;
    if (!any) {
      this.stop();
      return;
    }
    const now = Date.now();
    for (const g of this.groups) for (const t of g) t.checkTimeout(now);
  };
}
