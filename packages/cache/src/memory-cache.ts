import { CacheEntry, EntryQueue, MAIN } from './cache-entry';
import { checkPositive, checkTtl, optionError } from './check-option';
import { FrequencySketch } from './frequency-sketch';
import { hashKey } from './key-hash';

/** Why an entry left the cache, as told to `onEvict`. */
export type EvictionReason = 'evicted' | 'rejected' | 'expired' | 'deleted' | 'replaced';

export interface MemoryCacheOptions<K, V> {
  /** At most this many entries. At least one of `maxEntries` and `maxBytes` is required. */
  maxEntries?: number;
  /** At most this many bytes, as `sizeOf` counts them (required with `maxBytes`). */
  maxBytes?: number;
  /** The size of one entry in bytes; an entry it cannot size (throws, NaN, < 0) is not stored. */
  sizeOf?: (value: V, key: K) => number;
  /** Default time to live of an entry, in milliseconds; none (entries never expire) by default. */
  ttlMs?: number;
  /** The clock, in milliseconds (default `performance.now`); inject one to test expiry. */
  now?: () => number;
  /**
   * Share of the capacity (entries and bytes) given to the admission window, where new
   * entries wait before they compete for the main space. Default 0.01; 0.2 or more suits
   * traffic where what is new is what is hot (recency-biased).
   */
  windowRatio?: number;
  /** Expected number of entries, to size the frequency sketch when only `maxBytes` bounds the cache. */
  expectedEntries?: number;
  /** Called (errors ignored) whenever an entry leaves the cache, with the reason. */
  onEvict?: (key: K, value: V, reason: EvictionReason) => void;
}

export interface SetOptions {
  /** Time to live of this entry in milliseconds (default: the cache's `ttlMs`); 0 stores nothing. */
  ttlMs?: number;
}

export interface MemoryCacheStats {
  /** `get`s that returned a value. */
  hits: number;
  /** `get`s that found nothing, or found an expired entry. */
  misses: number;
  /** Entries that left to make room (victims and rejected candidates). */
  evictions: number;
  /** Of those, new entries that lost the admission contest to the main space's victim. */
  admissionRejected: number;
  /** Entries that left because their TTL ran out. */
  expirations: number;
  /** Entries now held. */
  entries: number;
  /** Bytes now held, as `sizeOf` counted them (0 without `sizeOf`). */
  bytes: number;
}

const USES_CAP = 3;
/**
 * Sketch slots per entry of capacity: 8 (16 bytes of sketch per entry). Counters halve after
 * 10 increments per slot, so a wider sketch also remembers longer; on the Zipf traces of
 * bench/cache-hit-ratio.mjs 8 matched TinyUFO where 1 fell 2 pp short.
 */
const SKETCH_SLOTS_PER_ENTRY = 8;
const defaultNow = (): number => performance.now();

/**
 * A bounded in-memory cache with TinyUFO-style admission (after Pingora's `tinyufo` and
 * Caffeine's W-TinyLFU). New entries go into a small FIFO window. When the window is full its
 * oldest entry competes for the main space: it is admitted only if the frequency sketch has
 * seen its key more often than the main space's next victim's. The main space is a CLOCK
 * queue (S3-FIFO's main queue): an entry read since it last came round gets another turn.
 * A scan of one-time keys therefore passes through the window without flushing the hot set,
 * which plain LRU cannot do.
 */
export class MemoryCache<K, V> {
  private readonly map = new Map<K, CacheEntry<K, V>>();
  private readonly window = new EntryQueue<K, V>();
  private readonly main = new EntryQueue<K, V>();
  private readonly sketch: FrequencySketch;
  private readonly sizeOf: ((value: V, key: K) => number) | undefined;
  private readonly defaultTtl: number | undefined;
  private readonly now: () => number;
  private readonly onEvict: ((key: K, value: V, reason: EvictionReason) => void) | undefined;
  private readonly maxEntries: number;
  private readonly maxBytes: number;
  private readonly windowEntries: number;
  private readonly windowBytes: number;
  private readonly mainEntries: number;
  private readonly mainBytes: number;
  private hits = 0;
  private misses = 0;
  private evictions = 0;
  private admissionRejected = 0;
  private expirations = 0;

  constructor(options: MemoryCacheOptions<K, V>) {
    if (options === null || typeof options !== 'object') throw optionError('MemoryCache options', 'an object', options);
    const maxEntries = checkPositive('maxEntries', options.maxEntries, true);
    const maxBytes = checkPositive('maxBytes', options.maxBytes, true);
    if (maxEntries === undefined && maxBytes === undefined) {
      throw optionError('maxEntries or maxBytes', 'given (the cache needs a bound)', undefined);
    }
    if (maxEntries !== undefined && Number.isFinite(maxEntries) && !Number.isInteger(maxEntries)) {
      throw optionError('maxEntries', 'an integer', maxEntries);
    }
    if (options.sizeOf !== undefined && typeof options.sizeOf !== 'function') throw optionError('sizeOf', 'a function', options.sizeOf);
    if (maxBytes !== undefined && Number.isFinite(maxBytes) && options.sizeOf === undefined) {
      throw optionError('sizeOf', 'a function when maxBytes is set', undefined);
    }
    if (options.now !== undefined && typeof options.now !== 'function') throw optionError('now', 'a function', options.now);
    if (options.onEvict !== undefined && typeof options.onEvict !== 'function') throw optionError('onEvict', 'a function', options.onEvict);
    const ratio = options.windowRatio ?? 0.01;
    if (typeof ratio !== 'number' || !(ratio > 0 && ratio <= 1)) throw optionError('windowRatio', 'a number in (0, 1]', ratio);
    const expected = checkPositive('expectedEntries', options.expectedEntries);

    this.defaultTtl = checkTtl('ttlMs', options.ttlMs);
    this.sizeOf = options.sizeOf;
    this.now = options.now ?? defaultNow;
    this.onEvict = options.onEvict;
    this.maxEntries = maxEntries ?? Infinity;
    this.maxBytes = maxBytes ?? Infinity;
    this.windowEntries = Number.isFinite(this.maxEntries) ? Math.max(1, Math.floor(this.maxEntries * ratio)) : Infinity;
    this.mainEntries = Number.isFinite(this.maxEntries) ? this.maxEntries - this.windowEntries : Infinity;
    this.windowBytes = this.maxBytes * ratio;
    this.mainBytes = Number.isFinite(this.maxBytes) ? this.maxBytes - this.windowBytes : Infinity;
    this.sketch = new FrequencySketch(SKETCH_SLOTS_PER_ENTRY * (Number.isFinite(this.maxEntries) ? this.maxEntries : (expected ?? 1024)));
  }

  /**
   * The value of `key`, or `undefined` when it is absent or expired. Counts a hit or a miss,
   * and the key in the frequency sketch, except on a hit of an entry that already has all its
   * uses: the hottest keys are read again and again between two passes of the CLOCK hand, and
   * counting them more would only saturate counters, at the cost of a memory access per get.
   */
  get(key: K): V | undefined {
    const e = this.map.get(key);
    if (e === undefined) {
      this.misses++;
      this.sketch.increment(hashKey(key));
      return undefined;
    }
    if (e.expiresAt !== Infinity && this.now() >= e.expiresAt) {
      this.sketch.increment(e.hash);
      this.expirations++;
      this.misses++;
      this.unlink(e, 'expired');
      return undefined;
    }
    if (e.uses < USES_CAP) {
      e.uses++;
      this.sketch.increment(e.hash);
    }
    this.hits++;
    return e.value;
  }

  /** Whether `key` holds a live value; counts no hit or miss and does not touch its recency. */
  has(key: K): boolean {
    const e = this.map.get(key);
    if (e === undefined) return false;
    if (e.expiresAt !== Infinity && this.now() >= e.expiresAt) {
      this.expirations++;
      this.unlink(e, 'expired');
      return false;
    }
    return true;
  }

  /**
   * Stores `value` under `key` for `ttlMs` (or the cache's default). Returns whether it was
   * stored: false for a TTL of 0, or a value that `sizeOf` cannot size or that is larger than
   * `maxBytes` (any older value of the key is removed then), or a large entry that lost the
   * admission contest at once. A new entry may still lose it later, when it leaves the window.
   * @throws ProxyError (`ConfigError`) when `ttlMs` is not a number >= 0.
   */
  set(key: K, value: V, options?: SetOptions): boolean {
    const ttl = options?.ttlMs === undefined ? this.defaultTtl : checkTtl('ttlMs', options.ttlMs);
    const size = this.measure(value, key);
    const old = this.map.get(key);
    if (ttl === 0 || size < 0 || size > this.maxBytes) {
      if (old !== undefined) this.unlink(old, 'deleted');
      return false;
    }
    const expiresAt = ttl === undefined || ttl === Infinity ? Infinity : this.now() + ttl;
    if (old !== undefined) {
      const oldValue = old.value;
      const queue = old.queue === MAIN ? this.main : this.window;
      queue.bytes += size - old.size;
      old.size = size;
      old.value = value;
      old.expiresAt = expiresAt;
      if (old.uses < USES_CAP) old.uses++;
      if (this.onEvict !== undefined && oldValue !== value) this.notify(key, oldValue, 'replaced');
      if (old.queue === MAIN) this.shrinkMain();
      else this.drainWindow();
      return this.map.get(key) === old;
    }
    const e = new CacheEntry(key, value, size, expiresAt, hashKey(key));
    this.map.set(key, e);
    if (this.map.size * SKETCH_SLOTS_PER_ENTRY > this.sketch.width) this.sketch.ensureCapacity(this.map.size * SKETCH_SLOTS_PER_ENTRY);
    this.window.push(e);
    this.drainWindow();
    // An entry larger than the window's share of maxBytes competes for the main space at once.
    return this.map.get(key) === e;
  }

  /** Removes `key`; returns whether it was there. */
  delete(key: K): boolean {
    const e = this.map.get(key);
    if (e === undefined) return false;
    this.unlink(e, 'deleted');
    return true;
  }

  /** Removes every entry (the counters and the frequency history are kept). */
  clear(): void {
    if (this.onEvict !== undefined) for (const e of this.map.values()) this.notify(e.key, e.value, 'deleted');
    this.map.clear();
    this.window.clear();
    this.main.clear();
  }

  /** Entries held now (expired ones not yet noticed included). */
  get size(): number {
    return this.map.size;
  }

  /** Bytes held now, as `sizeOf` counted them. */
  get bytes(): number {
    return this.window.bytes + this.main.bytes;
  }

  stats(): MemoryCacheStats {
    return {
      hits: this.hits,
      misses: this.misses,
      evictions: this.evictions,
      admissionRejected: this.admissionRejected,
      expirations: this.expirations,
      entries: this.map.size,
      bytes: this.bytes,
    };
  }

  /** The entry's size; -1 when `sizeOf` fails (a storage fault is a miss, never a throw). */
  private measure(value: V, key: K): number {
    if (this.sizeOf === undefined) return 0;
    try {
      const n = this.sizeOf(value, key);
      return typeof n === 'number' && n >= 0 && Number.isFinite(n) ? n : -1;
    } catch {
      return -1;
    }
  }

  /** Moves the window's oldest entries to the admission contest until the window fits. */
  private drainWindow(): void {
    const w = this.window;
    while (w.count > this.windowEntries || w.bytes > this.windowBytes) {
      const candidate = w.head!;
      w.remove(candidate);
      this.admit(candidate);
    }
  }

  /** TinyLFU: the candidate enters the main space only if it is seen more often than the victims it displaces. */
  private admit(c: CacheEntry<K, V>): void {
    if (c.expiresAt !== Infinity && this.now() >= c.expiresAt) {
      this.expirations++;
      this.drop(c, 'expired');
      return;
    }
    if (this.mainEntries < 1 || c.size > this.mainBytes) {
      this.evictions++;
      this.drop(c, 'evicted');
      return;
    }
    const m = this.main;
    let candidateFreq = -1;
    while (m.count + 1 > this.mainEntries || m.bytes + c.size > this.mainBytes) {
      const victim = this.nextVictim();
      if (victim === null) break;
      if (candidateFreq < 0) candidateFreq = this.sketch.frequency(c.hash);
      if (candidateFreq <= this.sketch.frequency(victim.hash)) {
        this.evictions++;
        this.admissionRejected++;
        this.drop(c, 'rejected');
        return;
      }
      this.evictions++;
      this.unlink(victim, 'evicted');
    }
    c.queue = MAIN;
    m.push(c);
  }

  /**
   * The main space's next victim, CLOCK-wise: an entry read since it last came round loses
   * one use and goes to the back. Expired entries met on the way are removed for free.
   */
  private nextVictim(): CacheEntry<K, V> | null {
    const m = this.main;
    for (;;) {
      const h = m.head;
      if (h === null) return null;
      if (h.expiresAt !== Infinity && this.now() >= h.expiresAt) {
        this.expirations++;
        this.unlink(h, 'expired');
        continue;
      }
      if (h.uses === 0) return h;
      h.uses--;
      m.rotate();
    }
  }

  /** After an update grew a main entry: evict (no contest) until the main space fits. */
  private shrinkMain(): void {
    const m = this.main;
    while (m.count > this.mainEntries || m.bytes > this.mainBytes) {
      const victim = this.nextVictim();
      if (victim === null) return;
      this.evictions++;
      this.unlink(victim, 'evicted');
    }
  }

  /** Removes an entry that is in a queue and in the map. */
  private unlink(e: CacheEntry<K, V>, reason: EvictionReason): void {
    (e.queue === MAIN ? this.main : this.window).remove(e);
    this.drop(e, reason);
  }

  /** Removes an entry already out of its queue from the map. */
  private drop(e: CacheEntry<K, V>, reason: EvictionReason): void {
    this.map.delete(e.key);
    if (this.onEvict !== undefined) this.notify(e.key, e.value, reason);
  }

  private notify(key: K, value: V, reason: EvictionReason): void {
    try {
      this.onEvict!(key, value, reason);
    } catch {
      // A listener's fault must not break the cache.
    }
  }
}
