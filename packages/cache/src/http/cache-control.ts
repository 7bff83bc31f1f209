/**
 * `Cache-Control` parsing for requests and responses (RFC 9111 §5.2). Never throws: malformed
 * input is read the way RFC 9111 asks a cache to read it, which is the restrictive way:
 * - a freshness value that is not a non-negative integer (`max-age=abc`, `max-age=-1`) makes
 *   the response stale (§4.2.1: "consider responses that have invalid freshness information …
 *   to be stale"), i.e. it counts as `0`;
 * - the same directive twice with different values: `max-age`/`s-maxage` count as `0` (stale,
 *   §4.2.1), the others keep the most restrictive value;
 * - a value above 2^31 counts as 2147483648 (§1.2.2);
 * - conflicting directives are all kept, and the policy honours the most restrictive one
 *   (`no-store` over everything, `private` over `public`, `no-cache` over `max-age`);
 * - unknown directives are ignored (§5.2.3); names compare case-insensitively; arguments may be
 *   tokens or quoted strings.
 */
import type { HeaderFields } from './header-fields';
import { fieldValues } from './header-fields';

/** The delta-seconds ceiling of RFC 9111 §1.2.2. */
export const DELTA_SECONDS_MAX = 2147483648;

export interface CacheControl {
  /** `max-age` in seconds, or `null`. */
  maxAge: number | null;
  /** `s-maxage` in seconds (responses), or `null`. */
  sMaxAge: number | null;
  noStore: boolean;
  /** `no-cache`: `true` (unqualified), a list of lower-case field names (qualified), or `false`. */
  noCache: boolean | readonly string[];
  /** `private`: `true` (unqualified), a list of lower-case field names (qualified), or `false`. */
  private: boolean | readonly string[];
  public: boolean;
  mustRevalidate: boolean;
  proxyRevalidate: boolean;
  mustUnderstand: boolean;
  noTransform: boolean;
  immutable: boolean;
  /** Request `max-stale`: seconds, `Infinity` when given without a value, or `null`. */
  maxStale: number | null;
  /** Request `min-fresh` in seconds, or `null`. */
  minFresh: number | null;
  onlyIfCached: boolean;
  /** `stale-while-revalidate` (RFC 5861) in seconds, or `null`. */
  staleWhileRevalidate: number | null;
  /** `stale-if-error` (RFC 5861) in seconds, or `null`. */
  staleIfError: number | null;
}

/** What "no `Cache-Control` at all" parses to. */
export const EMPTY_CACHE_CONTROL: Readonly<CacheControl> = Object.freeze(emptyCacheControl());

function emptyCacheControl(): CacheControl {
  return {
    maxAge: null,
    sMaxAge: null,
    noStore: false,
    noCache: false,
    private: false,
    public: false,
    mustRevalidate: false,
    proxyRevalidate: false,
    mustUnderstand: false,
    noTransform: false,
    immutable: false,
    maxStale: null,
    minFresh: null,
    onlyIfCached: false,
    staleWhileRevalidate: null,
    staleIfError: null,
  };
}

/** Parses every `Cache-Control` field of `fields` (several lines are one list). */
export function cacheControlOf(fields: HeaderFields): CacheControl {
  const values = fieldValues(fields, 'cache-control');
  if (values.length === 0) return EMPTY_CACHE_CONTROL;
  return parseCacheControl(values.length === 1 ? (values[0] as string) : values.join(','));
}

/** Parses one `Cache-Control` value. */
export function parseCacheControl(value: string): CacheControl {
  const cc = emptyCacheControl();
  const seen = new Set<string>();
  let i = 0;
  const n = value.length;
  while (i < n) {
    // name
    while (i < n && (value[i] === ',' || value[i] === ' ' || value[i] === '\t')) i++;
    const nameStart = i;
    while (i < n && value[i] !== '=' && value[i] !== ',') i++;
    const name = value.slice(nameStart, i).trim().toLowerCase();
    let arg: string | null = null;
    if (i < n && value[i] === '=') {
      i++;
      while (i < n && (value[i] === ' ' || value[i] === '\t')) i++;
      if (value[i] === '"') {
        i++;
        let s = '';
        while (i < n && value[i] !== '"') {
          if (value[i] === '\\' && i + 1 < n) i++;
          s += value[i];
          i++;
        }
        i++; // closing quote (or end)
        arg = s;
        while (i < n && value[i] !== ',') i++; // ignore junk after the quoted string
      } else {
        const argStart = i;
        while (i < n && value[i] !== ',') i++;
        arg = value.slice(argStart, i).trim();
      }
    }
    if (name.length > 0) apply(cc, name, arg, seen.has(name));
    seen.add(name);
  }
  return cc;
}

function apply(cc: CacheControl, name: string, arg: string | null, repeated: boolean): void {
  switch (name) {
    case 'max-age':
      cc.maxAge = lifetime(cc.maxAge, arg, repeated);
      return;
    case 's-maxage':
      cc.sMaxAge = lifetime(cc.sMaxAge, arg, repeated);
      return;
    case 'no-store':
      cc.noStore = true;
      return;
    case 'no-cache':
      cc.noCache = qualified(cc.noCache, arg);
      return;
    case 'private':
      cc.private = qualified(cc.private, arg);
      return;
    case 'public':
      cc.public = true;
      return;
    case 'must-revalidate':
      cc.mustRevalidate = true;
      return;
    case 'proxy-revalidate':
      cc.proxyRevalidate = true;
      return;
    case 'must-understand':
      cc.mustUnderstand = true;
      return;
    case 'no-transform':
      cc.noTransform = true;
      return;
    case 'immutable':
      cc.immutable = true;
      return;
    case 'only-if-cached':
      cc.onlyIfCached = true;
      return;
    case 'max-stale': {
      // Without a value: any staleness; an invalid value allows none (the restrictive reading).
      const v = arg === null ? Infinity : deltaSeconds(arg);
      const next = v === null ? 0 : v;
      cc.maxStale = cc.maxStale === null ? next : Math.min(cc.maxStale, next);
      return;
    }
    case 'min-fresh': {
      const v = arg === null ? null : deltaSeconds(arg);
      if (v !== null) cc.minFresh = cc.minFresh === null ? v : Math.max(cc.minFresh, v);
      return;
    }
    case 'stale-while-revalidate':
      cc.staleWhileRevalidate = window(cc.staleWhileRevalidate, arg);
      return;
    case 'stale-if-error':
      cc.staleIfError = window(cc.staleIfError, arg);
      return;
    default:
      return; // unknown extensions are ignored (§5.2.3)
  }
}

/** max-age / s-maxage: invalid or conflicting values mean stale (0). */
function lifetime(prev: number | null, arg: string | null, repeated: boolean): number {
  const v = arg === null ? null : deltaSeconds(arg);
  if (v === null) return 0;
  if (repeated && prev !== null && prev !== v) return 0;
  return v;
}

/** stale-* windows: invalid means no window, repeated keeps the smallest. */
function window(prev: number | null, arg: string | null): number {
  const v = arg === null ? null : deltaSeconds(arg);
  const next = v === null ? 0 : v;
  return prev === null ? next : Math.min(prev, next);
}

/** `no-cache` / `private`: unqualified wins over a field list; lists accumulate. */
function qualified(prev: boolean | readonly string[], arg: string | null): boolean | readonly string[] {
  if (prev === true) return true;
  if (arg === null) return true;
  const names = arg
    .split(',')
    .map((s) => s.trim().toLowerCase())
    .filter((s) => s.length > 0);
  if (names.length === 0) return true; // `no-cache=""`: read as the unqualified (stricter) form
  return prev === false ? names : [...prev, ...names];
}

/** RFC 9111 §1.2.2 delta-seconds: digits only; `null` when invalid; capped at 2^31. */
export function deltaSeconds(s: string): number | null {
  if (s.length === 0) return null;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 48 || c > 57) return null;
  }
  if (s.length > 10) return DELTA_SECONDS_MAX;
  const v = Number(s);
  return v > DELTA_SECONDS_MAX ? DELTA_SECONDS_MAX : v;
}
