/**
 * The knobs of the HTTP cache policy, checked once (a bad value throws a `TypeError` naming the
 * option), then read per response without further checks.
 */
export interface HttpCachePolicyOptions {
  /**
   * Freshness, in seconds, for a response the RFC lets a cache judge heuristically (a
   * heuristically cacheable status or `public`, no explicit expiry) when it has no
   * `Last-Modified` to derive one from. `0` (the default): such a response is stored stale and
   * revalidated on each use.
   */
  defaultTtlSeconds?: number;
  /** The fraction of the `Last-Modified` age used as heuristic freshness (RFC 9111 §4.2.2 suggests 10 %). Default `0.1`. */
  heuristicFraction?: number;
  /** Upper bound of a heuristic freshness, in seconds. Default `86400` (one day). */
  heuristicMaxSeconds?: number;
  /**
   * `stale-while-revalidate` window, in seconds, for responses that name none. Not applied to
   * responses with `must-revalidate`, `proxy-revalidate`, `no-cache` or `s-maxage`. Default `0`.
   */
  staleWhileRevalidateSeconds?: number;
  /** `stale-if-error` window, in seconds, for responses that name none; same exceptions. Default `0`. */
  staleIfErrorSeconds?: number;
}

export type ResolvedPolicyOptions = Readonly<Required<HttpCachePolicyOptions>>;

export const DEFAULT_POLICY_OPTIONS: ResolvedPolicyOptions = Object.freeze({
  defaultTtlSeconds: 0,
  heuristicFraction: 0.1,
  heuristicMaxSeconds: 86400,
  staleWhileRevalidateSeconds: 0,
  staleIfErrorSeconds: 0,
});

/** Fills in defaults and checks every value; throws a `TypeError` naming the bad option. */
export function resolvePolicyOptions(options: HttpCachePolicyOptions = {}): ResolvedPolicyOptions {
  if (options === DEFAULT_POLICY_OPTIONS) return DEFAULT_POLICY_OPTIONS;
  const out = { ...DEFAULT_POLICY_OPTIONS };
  for (const key of Object.keys(options) as (keyof HttpCachePolicyOptions)[]) {
    if (!(key in DEFAULT_POLICY_OPTIONS)) throw new TypeError(`unknown HTTP cache option "${String(key)}"`);
    const v = options[key];
    if (v === undefined) continue;
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) {
      throw new TypeError(`HTTP cache option "${key}" must be a finite number >= 0, got ${String(v)}`);
    }
    if (key === 'heuristicFraction' && v > 1) throw new TypeError(`HTTP cache option "heuristicFraction" must be at most 1, got ${v}`);
    out[key] = v;
  }
  return Object.freeze(out);
}
