/**
 * The request and response heads the HTTP cache reads. Plain shapes (the proxy's
 * `RequestHeader`/`ResponseHeader` fit them through `headers.raw`), so the cache never imports
 * the proxy.
 */
import type { HeaderFields } from './header-fields';

export interface CacheRequest {
  /** e.g. `GET`, upper case as received. */
  method: string;
  /** `http` or `https`. */
  scheme: string;
  /** `Host` (HTTP/1.1) or `:authority` (HTTP/2): host, and port when not the default. */
  authority: string;
  /** Path and query, e.g. `/a/b?c=1`. */
  path: string;
  headers: HeaderFields;
}

export interface CacheResponse {
  status: number;
  /** Reason phrase; `''` for the standard one. */
  reason?: string;
  headers: HeaderFields;
}

/** Methods RFC 9110 §9.2.1 defines as safe: they never invalidate (RFC 9111 §4.4). */
export function isSafeMethod(method: string): boolean {
  return method === 'GET' || method === 'HEAD' || method === 'OPTIONS' || method === 'TRACE';
}

/**
 * The default of `requestCacheFilter`: `GET` and `HEAD` use the cache (a `HEAD` is served from
 * the stored `GET`); every other method bypasses it (and an unsafe one invalidates, see
 * `invalidatedPrimaryKeys`).
 */
export function isCacheableMethod(method: string): boolean {
  return method === 'GET' || method === 'HEAD';
}
