/**
 * The cache lookup of a request: primary key → its `Vary` names → the variant for this
 * request. Never rejects: a storage error is a miss, reported through `onError` (for a log line).
 */
import type { CacheKey } from './cache-key';
import type { HeaderFields } from './header-fields';
import type { CacheHit, HttpCacheStorage } from './storage';
import { varianceKey } from './vary';

export interface VariantLookup {
  key: CacheKey;
  /** The stored variant, or `null` (a miss, or a storage error). */
  hit: CacheHit | null;
}

/**
 * Finds the variant of `primary` that `requestHeaders` select. When the variant found was
 * stored with other `Vary` names than the primary's latest ones, the variance is computed
 * again with its own names (RFC 9111 §4.1 matches on the stored response's `Vary`).
 */
export async function lookupVariant(
  storage: HttpCacheStorage,
  primary: string,
  requestHeaders: HeaderFields,
  onError?: (error: unknown) => void,
): Promise<VariantLookup> {
  let key: CacheKey = { primary, variance: null };
  try {
    const entry = await storage.lookup(primary);
    if (entry === null) return { key, hit: null };
    key = { primary, variance: varianceKey(entry.vary, requestHeaders) };
    const hit = await storage.get(key);
    if (hit === null || sameNames(hit.meta.vary, entry.vary)) return { key, hit };
    hit.body.close();
    key = { primary, variance: varianceKey(hit.meta.vary, requestHeaders) };
    const again = await storage.get(key);
    if (again !== null && !sameNames(again.meta.vary, hit.meta.vary)) {
      again.body.close();
      return { key, hit: null };
    }
    return { key, hit: again };
  } catch (e) {
    onError?.(e);
    return { key, hit: null };
  }
}

function sameNames(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
