/**
 * The `X-Cache-Status` value of a response (nginx's `$upstream_cache_status` words):
 * - `HIT`: served fresh from the cache;
 * - `MISS`: nothing stored; fetched from the origin (and stored if it may be);
 * - `EXPIRED`: stored but stale; the origin sent a full new response;
 * - `STALE`: served stale (`stale-while-revalidate`, `stale-if-error`, the client's `max-stale`);
 * - `REVALIDATED`: stored but stale; the origin answered 304 and the stored one was served;
 * - `BYPASS`: the cache was not used (method, `no-store`, `requestCacheFilter`, a storage error).
 */
import type { StoredResponseUse } from './stored-response-use';

export type CacheStatus = 'HIT' | 'MISS' | 'EXPIRED' | 'STALE' | 'REVALIDATED' | 'BYPASS';

export const CACHE_STATUSES: readonly CacheStatus[] = ['HIT', 'MISS', 'EXPIRED', 'STALE', 'REVALIDATED', 'BYPASS'];

export const DEFAULT_CACHE_STATUS_HEADER = 'X-Cache-Status';

/**
 * The status of a response answered straight from the lookup (`fresh` → HIT; a stale one
 * served → STALE), or `null` when the origin must be asked first (`revalidate`,
 * `gateway-timeout`: see `cacheStatusAfterOrigin`).
 */
export function cacheStatusOfLookup(use: StoredResponseUse): CacheStatus | null {
  switch (use) {
    case 'fresh':
      return 'HIT';
    case 'stale':
    case 'stale-while-revalidate':
      return 'STALE';
    default:
      return null;
  }
}

/**
 * What the origin's answer made of a request that went upstream:
 * - `hadStored`: a stored response was found (stale) before asking;
 * - `origin`: `'not-modified'` (a 304 freshened it), `'response'` (a full response),
 *   `'error'` (failed: with `servedStale`, the stored one was sent under `stale-if-error`).
 */
export function cacheStatusAfterOrigin(hadStored: boolean, origin: 'not-modified' | 'response' | 'error', servedStale = false): CacheStatus {
  if (!hadStored) return 'MISS';
  if (origin === 'not-modified') return 'REVALIDATED';
  if (origin === 'error' && servedStale) return 'STALE';
  return 'EXPIRED';
}
