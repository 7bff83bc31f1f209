import { checkPositive, checkTtl, optionError } from './check-option';
import { MemoryCache, type MemoryCacheOptions, type MemoryCacheStats } from './memory-cache';

const kTtl = Symbol('pingora-ts.cache.withTtl');

/** A lookup's value with its own TTL (see `withTtl`). */
export interface ValueWithTtl<V> {
  readonly [kTtl]: true;
  readonly value: V;
  readonly ttlMs: number;
}

/** Wraps a lookup's result with its TTL in milliseconds (e.g. a DNS answer's TTL); 0 caches nothing. */
export function withTtl<V>(value: V, ttlMs: number): ValueWithTtl<V> {
  return { [kTtl]: true, value, ttlMs };
}

function isWithTtl<V>(r: V | ValueWithTtl<V>): r is ValueWithTtl<V> {
  return typeof r === 'object' && r !== null && (r as { [kTtl]?: boolean })[kTtl] === true;
}

/** Fetches the value of a key on a miss: a value, or `withTtl(value, ttlMs)`. */
export type Lookup<K, V> = (key: K) => Promise<V | ValueWithTtl<V>> | V | ValueWithTtl<V>;

export interface RTCacheOptions<K, V> extends Omit<MemoryCacheOptions<K, V>, 'onEvict'> {
  /**
   * How long a caller waits for another caller's lookup of the same key before it does its own
   * (not stored); none by default: waiters wait for the lookup (bounded by `maxLockAgeMs`).
   */
  lockTimeoutMs?: number;
  /**
   * A lookup older than this no longer holds the key: the next caller takes the lock over and
   * looks up itself, and the waiters join it. Default 30,000 ms, so a stuck lookup never blocks forever.
   */
  maxLockAgeMs?: number;
  /** Cache a failed lookup for this long, so callers fail fast; 0 (the default): errors are not cached. */
  errorTtlMs?: number;
  /**
   * Refresh-ahead: for this long after a value expires it is still served, while one
   * background lookup refreshes it. 0 (the default): expired values are not served.
   */
  staleWhileRevalidateMs?: number;
}

export interface RTGetOptions {
  /** TTL of the value if the lookup runs and gives none (default: the cache's `ttlMs`). */
  ttlMs?: number;
}

export interface RTCacheStats {
  /** Fresh values served from the cache. */
  hits: number;
  /** Expired values served while a background lookup refreshes them. */
  staleHits: number;
  /** Calls that found nothing fresh and waited for or ran a lookup. */
  misses: number;
  /** Calls that waited on another call's lookup and got its outcome. */
  lockHits: number;
  /** Calls whose wait ran past `lockTimeoutMs` and that looked up themselves. */
  lockTimeouts: number;
  /** Locks taken over because they were older than `maxLockAgeMs`. */
  lockTakeovers: number;
  /** Lookups started (foreground and background). */
  lookups: number;
  /** Lookups that failed (threw or rejected). */
  lookupErrors: number;
  /** Background refreshes started. */
  refreshes: number;
  /** Cached failures served (see `errorTtlMs`). */
  errorHits: number;
  /** The underlying MemoryCache's counters. */
  cache: MemoryCacheStats;
}

/** What the cache holds for a key: a value or a cached failure, and when it stops being fresh. */
class Slot<V> {
  constructor(
    readonly value: V | undefined,
    readonly error: unknown,
    readonly failed: boolean,
    readonly freshUntil: number,
  ) {}
}

/** One lookup in flight for a key; its promise settles with the lookup. */
class Lock<V> {
  readonly promise: Promise<V>;
  resolve!: (v: V) => void;
  reject!: (e: unknown) => void;
  constructor(readonly startedAt: number) {
    this.promise = new Promise<V>((res, rej) => {
      this.resolve = res;
      this.reject = rej;
    });
    // Nobody may be waiting: a failure with no waiter is not an unhandled rejection.
    this.promise.catch(() => undefined);
  }
}

const TIMED_OUT = Symbol('timed out');
const DEFAULT_MAX_LOCK_AGE_MS = 30_000;

/**
 * A read-through cache on a `MemoryCache` (Pingora's `RTCache`): `get(key, lookup)` returns
 * the cached value or runs `lookup`, and N concurrent misses of one key run one lookup. The
 * others wait on its lock and share its outcome (value or error). A wait longer than
 * `lockTimeoutMs` gives up and looks up alone; a lock older than `maxLockAgeMs` is taken over.
 */
export class RTCache<K, V> {
  private readonly cache: MemoryCache<K, Slot<V>>;
  private readonly locks = new Map<K, Lock<V>>();
  private readonly now: () => number;
  private readonly defaultTtl: number | undefined;
  private readonly lockTimeoutMs: number | undefined;
  private readonly maxLockAgeMs: number;
  private readonly errorTtlMs: number;
  private readonly swrMs: number;
  private hits = 0;
  private staleHits = 0;
  private misses = 0;
  private lockHits = 0;
  private lockTimeouts = 0;
  private lockTakeovers = 0;
  private lookups = 0;
  private lookupErrors = 0;
  private refreshes = 0;
  private errorHits = 0;

  constructor(options: RTCacheOptions<K, V>) {
    if (options === null || typeof options !== 'object') throw optionError('RTCache options', 'an object', options);
    this.lockTimeoutMs = checkPositive('lockTimeoutMs', options.lockTimeoutMs, true);
    this.maxLockAgeMs = checkPositive('maxLockAgeMs', options.maxLockAgeMs, true) ?? DEFAULT_MAX_LOCK_AGE_MS;
    this.errorTtlMs = checkTtl('errorTtlMs', options.errorTtlMs) ?? 0;
    this.swrMs = checkTtl('staleWhileRevalidateMs', options.staleWhileRevalidateMs) ?? 0;
    const { sizeOf } = options;
    if (sizeOf !== undefined && typeof sizeOf !== 'function') throw optionError('sizeOf', 'a function', sizeOf);
    this.cache = new MemoryCache<K, Slot<V>>({
      ...options,
      // The TTL of each slot is set per entry (value TTL + stale window).
      ttlMs: undefined,
      // A cached failure counts as 1 byte: bounded by errorTtlMs, not worth a sizeOf call.
      sizeOf: sizeOf === undefined ? undefined : (slot, key) => (slot.failed ? 1 : sizeOf(slot.value as V, key)),
    });
    this.defaultTtl = checkTtl('ttlMs', options.ttlMs);
    this.now = options.now ?? (() => performance.now());
  }

  /**
   * The value of `key`: from the cache while fresh, else from `lookup` (one lookup for all the
   * concurrent callers). Rejects with the lookup's error when it fails.
   * @throws ProxyError (`ConfigError`) when `opts.ttlMs` is not a number >= 0.
   */
  get(key: K, lookup: Lookup<K, V>, opts?: RTGetOptions): Promise<V> {
    const slot = this.cache.get(key);
    if (slot !== undefined) {
      if (this.now() < slot.freshUntil) {
        if (slot.failed) {
          this.errorHits++;
          return Promise.reject(slot.error);
        }
        this.hits++;
        return Promise.resolve(slot.value as V);
      }
      if (!slot.failed) {
        // Within the stale window (the slot's TTL covers it): serve, refresh once in the background.
        this.staleHits++;
        if (!this.locks.has(key)) {
          this.refreshes++;
          this.lead(key, lookup, opts?.ttlMs).catch(() => undefined);
        }
        return Promise.resolve(slot.value as V);
      }
    }
    this.misses++;
    const lock = this.locks.get(key);
    if (lock !== undefined && this.now() - lock.startedAt <= this.maxLockAgeMs) return this.wait(key, lock, lookup, opts);
    if (lock !== undefined) this.lockTakeovers++;
    return this.lead(key, lookup, opts?.ttlMs);
  }

  /** Removes `key` (an in-flight lookup still stores its result when it ends). */
  delete(key: K): boolean {
    return this.cache.delete(key);
  }

  clear(): void {
    this.cache.clear();
  }

  stats(): RTCacheStats {
    return {
      hits: this.hits,
      staleHits: this.staleHits,
      misses: this.misses,
      lockHits: this.lockHits,
      lockTimeouts: this.lockTimeouts,
      lockTakeovers: this.lockTakeovers,
      lookups: this.lookups,
      lookupErrors: this.lookupErrors,
      refreshes: this.refreshes,
      errorHits: this.errorHits,
      cache: this.cache.stats(),
    };
  }

  /** Takes the key's lock, runs the lookup, stores the outcome and hands it to the waiters. */
  private async lead(key: K, lookup: Lookup<K, V>, ttlMs: number | undefined): Promise<V> {
    const ttlOpt = ttlMs === undefined ? this.defaultTtl : checkTtl('ttlMs', ttlMs);
    const lock = new Lock<V>(this.now());
    this.locks.set(key, lock);
    try {
      const { value, ttl } = await this.run(key, lookup, ttlOpt);
      this.store(key, new Slot<V>(value, undefined, false, this.deadline(ttl)), ttl, this.swrMs);
      lock.resolve(value);
      return value;
    } catch (err) {
      // A failed refresh keeps the stale value; a failed miss is cached only with errorTtlMs.
      if (this.errorTtlMs > 0 && !this.cache.has(key)) {
        this.store(key, new Slot<V>(undefined, err, true, this.deadline(this.errorTtlMs)), this.errorTtlMs, 0);
      }
      lock.reject(err);
      throw err;
    } finally {
      // Only this lookup's own lock: a takeover's newer lock stays.
      if (this.locks.get(key) === lock) this.locks.delete(key);
    }
  }

  /** Waits on another call's lookup, at most `lockTimeoutMs` and until the lock is too old. */
  private async wait(key: K, lock: Lock<V>, lookup: Lookup<K, V>, opts: RTGetOptions | undefined): Promise<V> {
    const ageLeft = this.maxLockAgeMs - (this.now() - lock.startedAt);
    const timeout = this.lockTimeoutMs === undefined ? Infinity : this.lockTimeoutMs;
    const waitMs = Math.min(timeout, ageLeft);
    let timer: NodeJS.Timeout | undefined;
    const outcome = Number.isFinite(waitMs)
      ? await Promise.race([
          lock.promise,
          new Promise<typeof TIMED_OUT>((resolve) => {
            timer = setTimeout(resolve, Math.max(0, waitMs), TIMED_OUT);
          }),
        ]).finally(() => clearTimeout(timer))
      : await lock.promise;
    if (outcome !== TIMED_OUT) {
      this.lockHits++;
      return outcome;
    }
    if (waitMs >= timeout) {
      // Pingora's lock timeout: look up alone, without storing (the lock holder will).
      this.lockTimeouts++;
      return (await this.run(key, lookup, undefined)).value;
    }
    // The lock grew too old while we waited: take it over, or join whoever already did.
    const current = this.locks.get(key);
    if (current !== undefined && current !== lock && this.now() - current.startedAt <= this.maxLockAgeMs) {
      return this.wait(key, current, lookup, opts);
    }
    this.lockTakeovers++;
    return this.lead(key, lookup, opts?.ttlMs);
  }

  /** Runs the lookup (a synchronous throw is a failure too) and reads its TTL. */
  private async run(key: K, lookup: Lookup<K, V>, ttlOpt: number | undefined): Promise<{ value: V; ttl: number | undefined }> {
    this.lookups++;
    try {
      const r = await lookup(key);
      if (!isWithTtl(r)) return { value: r, ttl: ttlOpt };
      // A TTL the lookup got wrong caches nothing rather than failing the call.
      const ttl = typeof r.ttlMs === 'number' && r.ttlMs >= 0 ? r.ttlMs : 0;
      return { value: r.value, ttl };
    } catch (err) {
      this.lookupErrors++;
      throw err;
    }
  }

  private deadline(ttl: number | undefined): number {
    return ttl === undefined || ttl === Infinity ? Infinity : this.now() + ttl;
  }

  private store(key: K, slot: Slot<V>, ttl: number | undefined, staleMs: number): void {
    if (ttl === 0) {
      this.cache.delete(key);
      return;
    }
    const total = ttl === undefined || ttl === Infinity ? Infinity : ttl + staleMs;
    this.cache.set(key, slot, { ttlMs: total });
  }
}
