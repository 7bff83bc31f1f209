/**
 * Freshness lifetime (RFC 9111 §4.2.1, §4.2.2) and current age (§4.2.3).
 */
import type { CacheControl } from './cache-control';
import { DELTA_SECONDS_MAX } from './cache-control';
import type { CacheMeta } from './cache-meta';
import type { CacheResponse } from './cache-request';
import { fieldValue, fieldValues } from './header-fields';
import type { ResolvedPolicyOptions } from './http-cache-options';
import { parseHttpDate } from './http-date';
import { HEURISTICALLY_CACHEABLE } from './storable';

/**
 * Seconds a response stays fresh for a shared cache: `s-maxage`, else `max-age`, else
 * `Expires − Date` (several `Expires`, or an invalid one, mean already stale), else a heuristic
 * where §4.2.2 allows one (a heuristically cacheable status or `public`): 10 % (configurable)
 * of `Date − Last-Modified`, capped, or `defaultTtlSeconds` without `Last-Modified`.
 */
export function freshnessLifetime(response: CacheResponse, options: ResolvedPolicyOptions, cc: CacheControl, dateValue: number): number {
  if (cc.sMaxAge !== null) return cc.sMaxAge;
  if (cc.maxAge !== null) return cc.maxAge;
  const expires = fieldValues(response.headers, 'expires');
  if (expires.length > 1) return 0;
  if (expires.length === 1) {
    const at = parseHttpDate(expires[0]);
    if (at === null) return 0;
    return Math.max(0, Math.floor((at - dateValue) / 1000));
  }
  if (!(HEURISTICALLY_CACHEABLE.has(response.status) || cc.public)) return 0;
  const lastModified = parseHttpDate(fieldValue(response.headers, 'last-modified'));
  if (lastModified !== null && lastModified < dateValue) {
    const heuristic = Math.floor(((dateValue - lastModified) / 1000) * options.heuristicFraction);
    return Math.min(heuristic, options.heuristicMaxSeconds);
  }
  return options.defaultTtlSeconds;
}

/** The current age of a stored response at `now` (ms), in seconds, fractional (RFC 9111 §4.2.3). */
export function currentAge(meta: CacheMeta, now: number): number {
  const apparentAge = Math.max(0, meta.responseTime - meta.dateValue) / 1000;
  const responseDelay = Math.max(0, meta.responseTime - meta.requestTime) / 1000;
  const correctedAgeValue = meta.ageValue + responseDelay;
  const correctedInitialAge = Math.max(apparentAge, correctedAgeValue);
  const residentTime = Math.max(0, now - meta.responseTime) / 1000;
  return correctedInitialAge + residentTime;
}

/** Whether `meta` is fresh at `now`: its lifetime exceeds its current age (§4.2). */
export function isFresh(meta: CacheMeta, now: number): boolean {
  return meta.freshnessLifetime > currentAge(meta, now);
}

/** Seconds past its freshness lifetime at `now` (negative while fresh). */
export function staleness(meta: CacheMeta, now: number): number {
  return currentAge(meta, now) - meta.freshnessLifetime;
}

/** The `Age` value to send with a stored response at `now`: whole seconds, at most 2^31 (§5.1). */
export function ageHeaderValue(meta: CacheMeta, now: number): string {
  return String(Math.min(Math.floor(currentAge(meta, now)), DELTA_SECONDS_MAX));
}

/** The stored head fields with `Age` set for `now`: the head of a hit. A new array. */
export function hitHeaders(meta: CacheMeta, now: number): string[] {
  const out = meta.headers.slice();
  out.push('Age', ageHeaderValue(meta, now));
  return out;
}
