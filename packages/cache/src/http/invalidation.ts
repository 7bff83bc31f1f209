/**
 * Invalidation by unsafe methods (RFC 9111 §4.4): a non-error response to a `POST`, `PUT`,
 * `DELETE`, … makes the cache drop what it has for the target URI, and for the `Location` and
 * `Content-Location` URIs when they have the same origin (scheme and host).
 */
import type { CacheKeyTemplate } from './cache-key';
import { normaliseHost } from './cache-key';
import type { CacheRequest, CacheResponse } from './cache-request';
import { isSafeMethod } from './cache-request';
import { fieldValue } from './header-fields';

/** The primary keys to purge after `response` to `request` (none for safe methods or errors). */
export function invalidatedPrimaryKeys(request: CacheRequest, response: CacheResponse, template: CacheKeyTemplate): string[] {
  if (isSafeMethod(request.method)) return [];
  if (response.status < 200 || response.status >= 400) return [];
  const keys = [template.primaryKey(request)];
  for (const name of ['location', 'content-location']) {
    const value = fieldValue(response.headers, name);
    if (value === undefined) continue;
    const target = sameOriginTarget(request, value);
    if (target !== null) {
      const key = template.primaryKey(target);
      if (!keys.includes(key)) keys.push(key);
    }
  }
  return keys;
}

/** `uriRef` resolved against the request URL, as a request, when of the same origin; else `null`. */
function sameOriginTarget(request: CacheRequest, uriRef: string): CacheRequest | null {
  let base: URL;
  let url: URL;
  try {
    base = new URL(`${request.scheme}://${request.authority}${request.path}`);
    url = new URL(uriRef.trim(), base);
  } catch {
    return null; // a malformed URI is simply not invalidated
  }
  if (url.protocol !== base.protocol || normaliseHost(request.scheme, url.host) !== normaliseHost(request.scheme, base.host)) return null;
  return { method: 'GET', scheme: request.scheme, authority: request.authority, path: `${url.pathname}${url.search}`, headers: request.headers };
}
