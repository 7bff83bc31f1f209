/**
 * Whether a stored response may answer a request (RFC 9111 §4, §4.2.4, §5.2.1; RFC 5861):
 * the decision `cacheHitFilter`'s default takes after a lookup found something.
 */
import type { CacheControl } from './cache-control';
import { cacheControlOf, EMPTY_CACHE_CONTROL } from './cache-control';
import type { CacheMeta } from './cache-meta';
import type { HeaderFields } from './header-fields';
import { fieldValue } from './header-fields';
import { currentAge } from './freshness';

/**
 * - `fresh`: serve it (`HIT`).
 * - `stale`: serve it stale, the client allowed it with `max-stale` (`STALE`).
 * - `stale-while-revalidate`: serve it stale now (`STALE`) and refresh it with one background request.
 * - `revalidate`: ask the origin (conditionally); on an origin error, `staleIfErrorAllowed` says
 *   whether it may be served anyway.
 * - `gateway-timeout`: the client sent `only-if-cached` and it cannot be used: answer 504.
 */
export type StoredResponseUse = 'fresh' | 'stale' | 'stale-while-revalidate' | 'revalidate' | 'gateway-timeout';

/** The request's `Cache-Control`, with `Pragma: no-cache` read as `no-cache` when there is none (RFC 9111 §5.4). */
export function requestCacheControl(requestHeaders: HeaderFields): CacheControl {
  const cc = cacheControlOf(requestHeaders);
  if (cc === EMPTY_CACHE_CONTROL) {
    const pragma = fieldValue(requestHeaders, 'pragma');
    if (pragma !== undefined && pragma.toLowerCase().includes('no-cache')) return { ...EMPTY_CACHE_CONTROL, noCache: true };
  }
  return cc;
}

/** How the stored `meta` may be used for a request with `requestHeaders` at `now` (ms). */
export function storedResponseUse(meta: CacheMeta, requestHeaders: HeaderFields, now: number, reqCc: CacheControl = requestCacheControl(requestHeaders)): StoredResponseUse {
  // A request with credentials is answered from the cache only when the origin said a shared
  // cache may (§3.5); otherwise the origin checks them (a 304 still serves the stored body).
  const use = !meta.authorizedReuse && fieldValue(requestHeaders, 'authorization') !== undefined ? 'revalidate' : decide(meta, reqCc, now);
  return use === 'revalidate' && reqCc.onlyIfCached ? 'gateway-timeout' : use;
}

function decide(meta: CacheMeta, reqCc: CacheControl, now: number): StoredResponseUse {
  if (meta.noCache || reqCc.noCache !== false) return 'revalidate';
  const age = currentAge(meta, now);
  // The client's own limits (§5.2.1.1, §5.2.1.3) make a response unacceptable, not stale:
  // no stale window applies to them.
  if (reqCc.maxAge !== null && age > reqCc.maxAge) return 'revalidate';
  if (reqCc.minFresh !== null && meta.freshnessLifetime - age < reqCc.minFresh) return 'revalidate';
  if (meta.freshnessLifetime > age) return 'fresh';
  const stale = age - meta.freshnessLifetime;
  if (reqCc.maxStale !== null && !meta.noStale && !meta.sharedRevalidate && stale <= reqCc.maxStale) return 'stale';
  if (stale < meta.staleWhileRevalidate) return 'stale-while-revalidate';
  return 'revalidate';
}

/**
 * Whether `meta` may be served when the origin failed (error, 5xx, timeout) while revalidating
 * it: within its `stale-if-error` window or the request's own `stale-if-error`, never for
 * `must-revalidate`/`proxy-revalidate`/`no-cache` (§4.2.4; RFC 5861 §4).
 */
export function staleIfErrorAllowed(meta: CacheMeta, requestHeaders: HeaderFields, now: number): boolean {
  if (meta.noStale) return false;
  const stale = currentAge(meta, now) - meta.freshnessLifetime;
  if (stale < meta.staleIfError) return true;
  const reqWindow = cacheControlOf(requestHeaders).staleIfError;
  return reqWindow !== null && !meta.sharedRevalidate && stale < reqWindow;
}
