/**
 * Conditional requests towards the origin (RFC 9111 §4.3): the request sent to fill or
 * revalidate an entry, and freshening the stored head with a 304 (§4.3.4, §3.2).
 */
import type { CacheMeta, FetchTiming } from './cache-meta';
import { buildCacheMeta } from './cache-meta';
import type { CacheResponse } from './cache-request';
import type { HeaderFields } from './header-fields';
import { connectionOptions, fieldValue, HOP_BY_HOP } from './header-fields';
import type { HttpCachePolicyOptions, ResolvedPolicyOptions } from './http-cache-options';
import { resolvePolicyOptions } from './http-cache-options';
import { weakMatch } from './entity-tag';

// The client's own preconditions and ranges: the cache fetches the full 200 to store it, and
// answers them itself from the stored one.
const CLIENT_CONDITIONALS: ReadonlySet<string> = new Set(['if-match', 'if-none-match', 'if-modified-since', 'if-unmodified-since', 'if-range', 'range']);

/**
 * The header fields to send upstream to fill (or revalidate) an entry: the client's fields
 * without its preconditions and `Range`, plus `If-None-Match` from the stored `ETag` and
 * `If-Modified-Since` from the stored `Last-Modified` when `stored` is given. The method to
 * send is `GET` (also for a client's `HEAD`). A new array.
 */
export function fillRequestHeaders(requestHeaders: HeaderFields, stored: CacheMeta | null): string[] {
  const out: string[] = [];
  for (let i = 0; i + 1 < requestHeaders.length; i += 2) {
    const n = requestHeaders[i] as string;
    if (!CLIENT_CONDITIONALS.has(n.toLowerCase())) out.push(n, requestHeaders[i + 1] as string);
  }
  if (stored !== null) out.push(...validatorFields(stored));
  return out;
}

/** `['If-None-Match', etag, 'If-Modified-Since', lastModified]` for what `stored` has (RFC 9110 §13.1). */
export function validatorFields(stored: CacheMeta): string[] {
  const out: string[] = [];
  const etag = fieldValue(stored.headers, 'etag');
  if (etag !== undefined) out.push('If-None-Match', etag);
  const lastModified = fieldValue(stored.headers, 'last-modified');
  if (lastModified !== undefined) out.push('If-Modified-Since', lastModified);
  return out;
}

/** Whether `stored` has a validator (only then can a revalidation be conditional). */
export function hasValidator(stored: CacheMeta): boolean {
  return fieldValue(stored.headers, 'etag') !== undefined || fieldValue(stored.headers, 'last-modified') !== undefined;
}

// Not taken from a 304 (§3.2): hop-by-hop, Content-Length, and fields describing the body.
// Nor `Set-Cookie`: a 304 to one client's revalidation must not put its cookie in the shared head.
const NOT_UPDATED: ReadonlySet<string> = new Set([...HOP_BY_HOP, 'content-length', 'content-encoding', 'content-range', 'transfer-encoding', 'set-cookie']);

/**
 * The stored meta freshened by a 304 (RFC 9111 §4.3.4): every field of the 304 replaces the
 * stored ones of that name (except those `NOT_UPDATED`), and freshness is worked out again
 * from the merged head with the 304's timing. Returns `null` when the 304 does not select the
 * stored response (its strong `ETag` differs from the stored one): then the 304 must not be
 * used to serve it and the caller fetches it again, unconditionally.
 */
export function freshenWith304(
  stored: CacheMeta,
  notModified: CacheResponse,
  timing: FetchTiming,
  options: HttpCachePolicyOptions | ResolvedPolicyOptions = {},
): CacheMeta | null {
  const newEtag = fieldValue(notModified.headers, 'etag');
  const oldEtag = fieldValue(stored.headers, 'etag');
  if (newEtag !== undefined && (oldEtag === undefined || !weakMatch(newEtag, oldEtag))) return null;

  const drop = new Set(NOT_UPDATED);
  for (const n of connectionOptions(notModified.headers)) drop.add(n);
  const replaced = new Set<string>();
  const additions: string[] = [];
  for (let i = 0; i + 1 < notModified.headers.length; i += 2) {
    const n = notModified.headers[i] as string;
    const lower = n.toLowerCase();
    if (drop.has(lower)) continue;
    replaced.add(lower);
    additions.push(n, notModified.headers[i + 1] as string);
  }
  const merged: string[] = [];
  for (let i = 0; i + 1 < stored.headers.length; i += 2) {
    const n = stored.headers[i] as string;
    if (!replaced.has(n.toLowerCase())) merged.push(n, stored.headers[i + 1] as string);
  }
  merged.push(...additions);
  return buildCacheMeta({ status: stored.status, reason: stored.reason, headers: merged }, timing, resolvePolicyOptions(options));
}
