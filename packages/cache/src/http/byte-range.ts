/**
 * A `Range` request served from a stored full body (RFC 9110 §14): one `bytes=` range gives a
 * 206 with `Content-Range`; an unsatisfiable one a 416 with `Content-Range: bytes *\/size`;
 * anything else (several ranges, another unit, bad syntax, a failed `If-Range`) is ignored and
 * the full 200 is served, as §14.2 allows.
 */
import type { CacheMeta } from './cache-meta';
import type { HeaderFields } from './header-fields';
import { fieldValue } from './header-fields';
import { strongMatch } from './entity-tag';
import { parseHttpDate } from './http-date';

export type RangeDecision =
  | { status: 200 }
  /** `start`..`end` inclusive; `contentRange` is the `Content-Range` value. */
  | { status: 206; start: number; end: number; contentRange: string }
  | { status: 416; contentRange: string };

const FULL: RangeDecision = { status: 200 };

/** What to serve for `requestHeaders` (its `Range` and `If-Range`) from a stored body of `size` bytes. */
export function evaluateRange(method: string, requestHeaders: HeaderFields, size: number, stored?: CacheMeta): RangeDecision {
  if (method !== 'GET') return FULL;
  const range = fieldValue(requestHeaders, 'range');
  if (range === undefined) return FULL;
  const ifRange = fieldValue(requestHeaders, 'if-range');
  if (ifRange !== undefined && (stored === undefined || !ifRangeHolds(ifRange, stored))) return FULL;
  return parseByteRange(range, size);
}

/** One `bytes=` range against `size` bytes. */
export function parseByteRange(value: string, size: number): RangeDecision {
  const v = value.trim();
  const eq = v.indexOf('=');
  if (eq < 0 || v.slice(0, eq).trim().toLowerCase() !== 'bytes') return FULL;
  const spec = v.slice(eq + 1).trim();
  if (spec.includes(',')) return FULL; // several ranges: served whole
  const dash = spec.indexOf('-');
  if (dash < 0) return FULL;
  const first = spec.slice(0, dash).trim();
  const last = spec.slice(dash + 1).trim();
  if (!digits(first) && first !== '') return FULL;
  if (!digits(last) && last !== '') return FULL;
  let start: number;
  let end: number;
  if (first === '') {
    if (last === '') return FULL;
    const suffix = Number(last);
    if (suffix === 0 || size === 0) return unsatisfiable(size);
    start = Math.max(0, size - suffix);
    end = size - 1;
  } else {
    start = Number(first);
    if (last !== '' && Number(last) < start) return FULL; // invalid range-spec: ignored
    if (start >= size) return unsatisfiable(size);
    end = last === '' ? size - 1 : Math.min(Number(last), size - 1);
  }
  return { status: 206, start, end, contentRange: `bytes ${start}-${end}/${size}` };
}

function unsatisfiable(size: number): RangeDecision {
  return { status: 416, contentRange: `bytes */${size}` };
}

function digits(s: string): boolean {
  if (s.length === 0 || s.length > 15) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 48 || c > 57) return false;
  }
  return true;
}

/** `If-Range` (§13.1.5): a strong match of the stored `ETag`, or exactly the stored `Last-Modified` date. */
function ifRangeHolds(value: string, stored: CacheMeta): boolean {
  const v = value.trim();
  if (v.startsWith('"') || v.startsWith('W/')) {
    const etag = fieldValue(stored.headers, 'etag');
    return etag !== undefined && strongMatch(v, etag);
  }
  const date = parseHttpDate(v);
  const lastModified = parseHttpDate(fieldValue(stored.headers, 'last-modified'));
  return date !== null && lastModified !== null && date === lastModified;
}
