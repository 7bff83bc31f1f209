/**
 * The storage behind the HTTP cache (Pingora's `Storage`, `HitHandler`, `MissHandler`): the
 * phases only talk to this interface, so a shared store (Redis, disk) plugs in later without
 * touching them. `MemoryHttpStorage` is the default.
 *
 * A lookup is two steps because of `Vary`: `lookup(primary)` says which request fields the URL
 * varies on, the caller computes the variance from its request (`varianceKey`), then
 * `get({ primary, variance })` returns that variant (`lookupVariant` does both).
 *
 * Errors: an implementation may reject; callers treat a rejected lookup as a miss (see
 * `lookupVariant`) and a rejected `put`/`write` as "not cached", never as a failed request.
 */
import type { CacheKey } from './cache-key';
import type { CacheMeta } from './cache-meta';

/** What is stored under a primary key. */
export interface PrimaryEntry {
  /** The `Vary` names (lower case, sorted) of the latest variant stored: compute the variance with them. */
  vary: readonly string[];
  /** How many variants are stored (or being filled). */
  variants: number;
}

/** A stored (or being filled) response: its meta and a reader of its body. */
export interface CacheHit {
  meta: CacheMeta;
  body: BodyReader;
  /** The body length when the fill is complete; `null` while it is still being filled. */
  size: number | null;
}

/**
 * Reads one body, chunk by chunk. When the entry is still being filled, it gives what was
 * written so far, then waits for the rest. A fill that is aborted makes `read` reject: the body
 * is never handed out truncated as if complete.
 */
export interface BodyReader extends AsyncIterable<Buffer> {
  /** The next chunk, or `null` at the end. Rejects when the fill was aborted. */
  read(): Promise<Buffer | null>;
  /** Stops reading (the client went away); never affects the fill. Idempotent. */
  close(): void;
}

/** Writes one body into the store (a fill). */
export interface BodyWriter {
  /**
   * Appends a chunk. Resolves `false` once the entry is no longer being stored (it grew past
   * `maxObjectBytes`, or was purged); readers that joined it still get what is written after
   * that, so a writer feeding readers keeps writing to the end. The promise may resolve late:
   * that is the store's (or its readers') backpressure, so do not run far ahead of it.
   */
  write(chunk: Buffer): Promise<boolean>;
  /** Completes the fill; resolves `true` when it is now stored (served to later lookups). */
  finish(): Promise<boolean>;
  /** Discards the fill (origin failed mid-body): never served; readers that joined get an error. Idempotent. */
  abort(): void;
  /**
   * Optional: `false` once the fill is neither being stored nor read by anyone (dropped for its
   * size and every reader left): the writer may stop fetching the rest.
   */
  needed?(): boolean;
}

/** How a fill is put (`HttpCacheStorage.put`). */
export interface PutOptions {
  /**
   * Not handed to readers (`get`) until it is finished: they keep the complete copy stored
   * meanwhile. For a background refresh, whose readers are better served by the stale copy
   * than by waiting on a slow origin.
   */
  hidden?: boolean;
}

export interface HttpCacheStorage {
  /** What is stored under `primary`, or `null`. */
  lookup(primary: string): Promise<PrimaryEntry | null>;
  /** The variant `key`, complete or being filled (a fill in progress wins: it is newer), or `null`. */
  get(key: CacheKey): Promise<CacheHit | null>;
  /**
   * Starts a fill of `key` with `meta`; readers may join it at once through `get`. Resolves
   * `null` when the store declines it (e.g. `expectedBytes` above `maxObjectBytes`): pass it
   * through uncached. The previous variant stays served until `finish`.
   */
  put(key: CacheKey, meta: CacheMeta, expectedBytes?: number | null, options?: PutOptions): Promise<BodyWriter | null>;
  /** Replaces the meta of the stored `key` (a 304 freshened it); `false` when not stored. */
  updateMeta(key: CacheKey, meta: CacheMeta): Promise<boolean>;
  /** Removes one variant (`CacheKey`) or every variant of a primary key (`string`); `true` when something was removed. */
  purge(target: CacheKey | string): Promise<boolean>;
  /** Optional: what the store holds now, for stats and metrics. */
  stats?(): HttpStorageStats;
}

/** What a store holds (`HttpCacheStorage.stats`). */
export interface HttpStorageStats {
  /** Bytes held (bodies and heads). */
  sizeBytes: number;
  /** Complete responses stored. */
  entries: number;
  /** Entries evicted to make room since the start. */
  evictions: number;
}
