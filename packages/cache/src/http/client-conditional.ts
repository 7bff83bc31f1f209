/**
 * A client's own conditional GET/HEAD answered from a stored response (RFC 9110 §13.1.2,
 * §13.1.3, §13.2.2): `If-None-Match` (weak comparison; `*` matches any) decides when present,
 * else `If-Modified-Since` against the stored `Last-Modified`.
 */
import type { CacheMeta } from './cache-meta';
import type { HeaderFields } from './header-fields';
import { combinedFieldValue, fieldValue } from './header-fields';
import { parseEntityTagList, weakMatch } from './entity-tag';
import { parseHttpDate } from './http-date';

/** `304` when the stored response satisfies the client's condition (not modified), else `200`. */
export function evaluateClientConditional(method: string, requestHeaders: HeaderFields, stored: CacheMeta): 200 | 304 {
  if (method !== 'GET' && method !== 'HEAD') return 200;
  if (stored.status !== 200) return 200;
  const inm = combinedFieldValue(requestHeaders, 'if-none-match');
  if (inm !== undefined) {
    const tags = parseEntityTagList(inm);
    if (tags === '*') return 304;
    const etag = fieldValue(stored.headers, 'etag');
    if (etag === undefined) return 200;
    for (const t of tags) if (weakMatch(t, etag)) return 304;
    return 200;
  }
  const ims = parseHttpDate(fieldValue(requestHeaders, 'if-modified-since'));
  if (ims === null) return 200; // absent or invalid: ignored (§13.1.3)
  const lastModified = parseHttpDate(fieldValue(stored.headers, 'last-modified'));
  if (lastModified === null) return 200;
  return lastModified <= ims ? 304 : 200;
}

// What a 304 carries (RFC 9110 §15.4.5): the fields a 200 would have sent that describe caching and validators.
const NOT_MODIFIED_FIELDS: ReadonlySet<string> = new Set(['cache-control', 'content-location', 'date', 'etag', 'expires', 'vary', 'last-modified']);

/** The fields of a 304 sent downstream for `storedHitHeaders` (the hit's head, `Age` included). */
export function notModifiedHeaders(storedHitHeaders: HeaderFields): string[] {
  const out: string[] = [];
  for (let i = 0; i + 1 < storedHitHeaders.length; i += 2) {
    const n = storedHitHeaders[i] as string;
    const lower = n.toLowerCase();
    if (NOT_MODIFIED_FIELDS.has(lower) || lower === 'age') out.push(n, storedHitHeaders[i + 1] as string);
  }
  return out;
}
