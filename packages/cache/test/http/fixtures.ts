import type { CacheMeta, CacheRequest, CacheResponse, FetchTiming, HttpCachePolicyOptions } from '../../src/http';
import { buildCacheMeta, formatHttpDate, resolvePolicyOptions, responseCacheable } from '../../src/http';

/** A fixed "now" so dates in headers are exact. */
export const T0 = Date.UTC(2026, 0, 15, 12, 0, 0);

export function req(headers: string[] = [], method = 'GET', path = '/a?b=1'): CacheRequest {
  return { method, scheme: 'https', authority: 'example.com', path, headers };
}

export function res(headers: string[] = [], status = 200): CacheResponse {
  return { status, headers: ['Date', formatHttpDate(T0), ...headers] };
}

export const AT_T0: FetchTiming = { requestTime: T0, responseTime: T0 };

/** The meta of a response that must be storable (fails the test otherwise). */
export function metaOf(response: CacheResponse, request: CacheRequest = req(), timing: FetchTiming = AT_T0, options: HttpCachePolicyOptions = {}): CacheMeta {
  const r = responseCacheable(request, response, timing, options);
  if (r.cacheable) return r.meta;
  // Storable by the RFC, kept out by the cache's own rules: the policy tests still read its meta.
  if (r.reason === 'never-fresh' || r.reason === 'set-cookie') return buildCacheMeta(response, timing, resolvePolicyOptions(options));
  throw new Error(`expected storable, got ${r.reason}`);
}

export const s = (seconds: number): number => T0 + seconds * 1000;
