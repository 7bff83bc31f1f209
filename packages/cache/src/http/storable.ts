/**
 * Whether a shared cache may store a response (RFC 9111 §3, with §3.5 for `Authorization`).
 */
import type { CacheControl } from './cache-control';
import { cacheControlOf } from './cache-control';
import type { CacheRequest, CacheResponse } from './cache-request';
import { fieldValue, fieldValues } from './header-fields';
import { parseVary } from './vary';

/** Why a response is not stored (logged, and the `BYPASS` reason). */
export type NotStorableReason =
  | 'method'
  | 'status'
  | 'request-no-store'
  | 'response-no-store'
  | 'private'
  | 'authorization'
  | 'vary-star'
  | 'no-explicit-freshness'
  /** Carries `Set-Cookie`: one user's cookie is not replayed to others (nginx and Varnish do the same). */
  | 'set-cookie'
  /** Stale from the start, with no validator and no stale window: storing it could only serve it stale. */
  | 'never-fresh';

export type Storability = { storable: true } | { storable: false; reason: NotStorableReason };

/** Status codes a cache may store without explicit freshness (RFC 9110 §15.1, "heuristically cacheable"). */
export const HEURISTICALLY_CACHEABLE: ReadonlySet<number> = new Set([200, 203, 204, 206, 300, 301, 308, 404, 405, 410, 414, 501]);

/**
 * Final status codes this cache understands (for `must-understand`) and can store: no 206 (only
 * full bodies are stored, ranges are cut from them) and no 304 (it freshens, it is not stored).
 */
const UNDERSTOOD: ReadonlySet<number> = new Set([200, 203, 204, 300, 301, 302, 303, 307, 308, 404, 405, 410, 414, 501]);

const STORABLE_YES: Storability = { storable: true };

/**
 * Whether `response` to `request` may be stored by a shared cache. Only `GET` is stored (the
 * proxy fetches `GET` for a `HEAD` and serves the `HEAD` from it). `reqCc`/`resCc` may be passed
 * when already parsed.
 */
export function storable(
  request: CacheRequest,
  response: CacheResponse,
  reqCc: CacheControl = cacheControlOf(request.headers),
  resCc: CacheControl = cacheControlOf(response.headers),
): Storability {
  if (request.method !== 'GET') return { storable: false, reason: 'method' };
  const status = response.status;
  if (!UNDERSTOOD.has(status)) {
    // 206, 304, 1xx, and codes this cache does not know (§3: "understood by the cache").
    return { storable: false, reason: 'status' };
  }
  if (reqCc.noStore) return { storable: false, reason: 'request-no-store' };
  // must-understand with an understood status overrides no-store (§5.2.2.3).
  if (resCc.noStore && !resCc.mustUnderstand) return { storable: false, reason: 'response-no-store' };
  if (resCc.private === true) return { storable: false, reason: 'private' };
  if (fieldValue(request.headers, 'authorization') !== undefined && !(resCc.mustRevalidate || resCc.public || resCc.sMaxAge !== null)) {
    return { storable: false, reason: 'authorization' };
  }
  if (parseVary(response.headers).any) return { storable: false, reason: 'vary-star' };
  if (
    resCc.public ||
    resCc.maxAge !== null ||
    resCc.sMaxAge !== null ||
    fieldValues(response.headers, 'expires').length > 0 ||
    HEURISTICALLY_CACHEABLE.has(status)
  ) {
    return STORABLE_YES;
  }
  return { storable: false, reason: 'no-explicit-freshness' };
}
