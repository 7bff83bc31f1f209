/**
 * The cache lock (Pingora's `CacheLock`): the first miss for a key takes the write permit and
 * fills the cache; later misses for that key wait until it releases, then look the cache up
 * again (served from the fill, which they may join while it streams), or go to the origin on
 * their own after `lockTimeoutMs`. One timer per lock, not per waiter; nothing per key once
 * released.
 */

/**
 * What a waiter learns:
 * - `done`: the holder stored (or started streaming) the response: look the cache up again;
 * - `transient-error`: the holder's fetch failed: look up again and compete for the lock again;
 * - `give-up`: the response is not cacheable: go to the origin, without the lock;
 * - `timeout`: the holder took longer than `lockTimeoutMs`: go to the origin on your own.
 */
export type LockStatus = 'done' | 'transient-error' | 'give-up' | 'timeout';

/** How a holder ends its lock. */
export type ReleaseStatus = Exclude<LockStatus, 'timeout'>;

export interface CacheLockOptions {
  /** How long waiters wait for the holder, in ms; also the lock's maximum age. Default 5000. */
  lockTimeoutMs?: number;
}

export type Locked = { role: 'writer'; permit: WritePermit } | { role: 'reader'; wait(): Promise<LockStatus> };

class LockCore {
  status: LockStatus | null = null;
  private waiters: ((s: LockStatus) => void)[] = [];
  timer: NodeJS.Timeout | null = null;

  wait(): Promise<LockStatus> {
    if (this.status !== null) return Promise.resolve(this.status);
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  settle(status: LockStatus): void {
    if (this.status !== null) return;
    this.status = status;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f(status);
  }

  get waiting(): number {
    return this.waiters.length;
  }
}

/** The holder's side of a lock: fill, then `release` (also after a failure: `transient-error`). */
export class WritePermit {
  constructor(
    readonly key: string,
    private readonly core: LockCore,
    private readonly onRelease: (key: string, core: LockCore) => void,
  ) {}

  /** Whether the lock is still held (not released, not timed out). */
  get held(): boolean {
    return this.core.status === null;
  }

  /** Wakes every waiter with `status` and frees the key. Idempotent; after a timeout it does nothing. */
  release(status: ReleaseStatus = 'done'): void {
    this.core.settle(status);
    this.onRelease(this.key, this.core);
  }
}

export class CacheLock {
  readonly lockTimeoutMs: number;
  private readonly locks = new Map<string, LockCore>();
  private readonly releaseFn = (key: string, core: LockCore): void => {
    if (this.locks.get(key) === core) this.locks.delete(key);
  };

  constructor(options: CacheLockOptions = {}) {
    const t = options.lockTimeoutMs ?? 5000;
    if (typeof t !== 'number' || !Number.isFinite(t) || t <= 0) {
      throw new TypeError(`cache option "lockTimeoutMs" must be a positive number of milliseconds, got ${String(t)}`);
    }
    this.lockTimeoutMs = t;
  }

  /** Keys locked now. */
  get size(): number {
    return this.locks.size;
  }

  /** Requests waiting on `key` now. */
  waiters(key: string): number {
    return this.locks.get(key)?.waiting ?? 0;
  }

  /** The write permit when nobody holds `key`, else a reader that waits for the holder. */
  lock(key: string): Locked {
    const held = this.locks.get(key);
    if (held !== undefined) return { role: 'reader', wait: () => held.wait() };
    const core = new LockCore();
    core.timer = setTimeout(() => {
      // The holder is stuck: waiters go their own way, and the next miss may take a new lock.
      core.settle('timeout');
      this.releaseFn(key, core);
    }, this.lockTimeoutMs);
    core.timer.unref();
    this.locks.set(key, core);
    return { role: 'writer', permit: new WritePermit(key, core, this.releaseFn) };
  }
}
