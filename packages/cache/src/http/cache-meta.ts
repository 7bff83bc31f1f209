/**
 * What the cache keeps about a stored response besides its body (Pingora's `CacheMeta`): the
 * head as it will be served, the times needed for its age (RFC 9111 §4.2.3), and the freshness
 * figures worked out once when it is stored (or freshened by a 304), so a hit only does arithmetic.
 */
import type { CacheControl } from './cache-control';
import { cacheControlOf, deltaSeconds } from './cache-control';
import type { CacheRequest, CacheResponse } from './cache-request';
import { connectionOptions, fieldValue, HOP_BY_HOP, withoutFields } from './header-fields';
import type { HttpCachePolicyOptions, ResolvedPolicyOptions } from './http-cache-options';
import { resolvePolicyOptions } from './http-cache-options';
import { freshnessLifetime } from './freshness';
import { parseHttpDate } from './http-date';
import type { NotStorableReason } from './storable';
import { storable } from './storable';
import { parseVary } from './vary';

export interface CacheMeta {
  status: number;
  reason: string;
  /** The stored head fields, flat `[name, value, …]`: no hop-by-hop, no `Age`, no `private=`/`no-cache=` named fields. */
  headers: readonly string[];
  /** When the request that fetched it was sent (ms since the epoch). */
  requestTime: number;
  /** When its head arrived (ms since the epoch). */
  responseTime: number;
  /** Its `Date` (ms), or `responseTime` when it had none or an invalid one. */
  dateValue: number;
  /** Its `Age` when received, in seconds (0 when absent or invalid). */
  ageValue: number;
  /** Freshness lifetime in seconds (§4.2.1; may be heuristic). */
  freshnessLifetime: number;
  /** Seconds after expiry during which it may be served while one background request refreshes it. */
  staleWhileRevalidate: number;
  /** Seconds after expiry during which it may be served when the origin fails. */
  staleIfError: number;
  /** `no-cache`: every use needs a successful revalidation first. */
  noCache: boolean;
  /** `must-revalidate`, `proxy-revalidate` or `no-cache`: never served stale, not even on error. */
  noStale: boolean;
  /** `s-maxage` (implies `proxy-revalidate`): served stale only within its own `stale-*` directives. */
  sharedRevalidate: boolean;
  /**
   * `public`, `s-maxage` or `must-revalidate`: the origin allows a shared cache to answer
   * requests with `Authorization` from it (RFC 9111 §3.5); without, such requests revalidate.
   */
  authorizedReuse: boolean;
  /** The lower-case, sorted `Vary` names it was selected by. */
  vary: readonly string[];
}

export interface FetchTiming {
  /** When the request went upstream (ms since the epoch). */
  requestTime: number;
  /** When the response head arrived (ms since the epoch). */
  responseTime: number;
}

export type ResponseCacheable = { cacheable: true; meta: CacheMeta } | { cacheable: false; reason: NotStorableReason };

/**
 * The default of `responseCacheFilter`: whether a shared cache stores `response`, and the meta
 * to store it with. Never throws on any header content.
 */
export function responseCacheable(
  request: CacheRequest,
  response: CacheResponse,
  timing: FetchTiming,
  options: HttpCachePolicyOptions | ResolvedPolicyOptions = {},
): ResponseCacheable {
  const resCc = cacheControlOf(response.headers);
  const verdict = storable(request, response, cacheControlOf(request.headers), resCc);
  if (!verdict.storable) return { cacheable: false, reason: verdict.reason };
  // Beyond the RFC's "may store", what a shared cache should not: a response setting a cookie
  // (one user's session replayed to the next), and one that could only ever be served stale
  // (a client's `max-stale` would get a previous user's page).
  if (fieldValue(response.headers, 'set-cookie') !== undefined) return { cacheable: false, reason: 'set-cookie' };
  const meta = buildCacheMeta(response, timing, resolvePolicyOptions(options), resCc);
  if (meta.freshnessLifetime <= meta.ageValue && meta.staleIfError === 0 && meta.staleWhileRevalidate === 0 && !hasValidatorField(meta.headers)) {
    return { cacheable: false, reason: 'never-fresh' };
  }
  return { cacheable: true, meta };
}

function hasValidatorField(fields: readonly string[]): boolean {
  return fieldValue(fields, 'etag') !== undefined || fieldValue(fields, 'last-modified') !== undefined;
}

/** The meta of a response already judged storable (also used to rebuild it after a 304). */
export function buildCacheMeta(
  response: CacheResponse,
  timing: FetchTiming,
  options: ResolvedPolicyOptions,
  resCc: CacheControl = cacheControlOf(response.headers),
): CacheMeta {
  const fields = response.headers;
  const drop = new Set(HOP_BY_HOP);
  drop.add('age');
  for (const n of connectionOptions(fields)) drop.add(n);
  // Qualified private / no-cache: a shared cache keeps the rest but not these (§5.2.2.4, §5.2.2.7).
  if (Array.isArray(resCc.private)) for (const n of resCc.private as readonly string[]) drop.add(n);
  if (Array.isArray(resCc.noCache)) for (const n of resCc.noCache as readonly string[]) drop.add(n);

  const date = parseHttpDate(fieldValue(fields, 'date'));
  const ageRaw = fieldValue(fields, 'age');
  const age = ageRaw === undefined ? null : deltaSeconds(ageRaw.trim());
  const dateValue = date ?? timing.responseTime;
  const noCache = resCc.noCache === true;
  const noStale = noCache || resCc.mustRevalidate || resCc.proxyRevalidate;
  const sharedRevalidate = resCc.sMaxAge !== null;
  // Configured windows only where the origin said nothing that forbids serving stale.
  const defaultsAllowed = !noStale && !sharedRevalidate;
  return {
    status: response.status,
    reason: response.reason ?? '',
    headers: withoutFields(fields, drop),
    requestTime: timing.requestTime,
    responseTime: timing.responseTime,
    dateValue,
    ageValue: age ?? 0,
    freshnessLifetime: freshnessLifetime(response, options, resCc, dateValue),
    staleWhileRevalidate: noStale ? 0 : (resCc.staleWhileRevalidate ?? (defaultsAllowed ? options.staleWhileRevalidateSeconds : 0)),
    staleIfError: noStale ? 0 : (resCc.staleIfError ?? (defaultsAllowed ? options.staleIfErrorSeconds : 0)),
    noCache,
    noStale,
    sharedRevalidate,
    authorizedReuse: resCc.public || resCc.sMaxAge !== null || resCc.mustRevalidate,
    vary: parseVary(fields).names,
  };
}
