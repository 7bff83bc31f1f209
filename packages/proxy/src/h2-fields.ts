/**
 * Header and trailer fields on their way into node:http2, which throws on what RFC 9113 §8.2.2
 * forbids (connection-specific fields) and on a second value for a field it allows once
 * (`date`, `content-type`, `etag`, …). Either would throw inside a timer or a stream event, far
 * from any handler, so fields are made acceptable here instead: forbidden ones dropped, repeated
 * ones joined (`, `; `set-cookie` kept as several lines, as RFC 9110 §5.3 allows only for it).
 */
import type { OutgoingHttpHeaders } from 'node:http2';
import { equalsLower } from './equals-lower';

/** Fields HTTP/2 does not carry (`lower`: a lower-case name). `te` is handled by the caller. */
export function isConnectionSpecific(lower: string): boolean {
  switch (lower.length) {
    case 7:
      return lower === 'upgrade';
    case 10:
      return lower === 'connection' || lower === 'keep-alive';
    case 14:
      return lower === 'http2-settings';
    case 16:
      return lower === 'proxy-connection';
    case 17:
      return lower === 'transfer-encoding';
    default:
      return false;
  }
}

/** Adds one field (`lower`: a lower-case name), joining a repeated one. */
export function addH2Field(out: OutgoingHttpHeaders, lower: string, value: string): void {
  const prev = out[lower];
  if (prev === undefined) out[lower] = value;
  else if (Array.isArray(prev)) prev.push(value);
  else if (lower === 'set-cookie') out[lower] = [String(prev), value];
  else out[lower] = lower === 'cookie' ? `${String(prev)}; ${value}` : `${String(prev)}, ${value}`;
}

/**
 * Adds `raw` (`[name, value, …]`) to `out` as HTTP/2 fields: names lower-cased, pseudo-headers
 * and connection-specific fields dropped; `te` kept only as `te: trailers` when `keepTe` (a
 * request head), dropped otherwise (responses and trailers).
 */
export function addH2Fields(out: OutgoingHttpHeaders, raw: readonly string[] | null, keepTe: boolean): OutgoingHttpHeaders {
  if (raw === null) return out;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = (raw[i] as string).toLowerCase();
    if (name.charCodeAt(0) === 58 /* : */ || isConnectionSpecific(name)) continue;
    const value = raw[i + 1] as string;
    if (name === 'te') {
      if (keepTe && equalsLower(value.trim(), 'trailers')) out.te = 'trailers';
      continue;
    }
    addH2Field(out, name, value);
  }
  return out;
}
