/**
 * `Session.headers` on the fast path: node:http's `IncomingMessage.headers` built from the raw
 * list only when a hook asks (names lower-cased; duplicates joined with `, `, `cookie` with
 * `; `, `set-cookie` kept as an array, and the first one winning for the fields node:http
 * does not join).
 */
import type { IncomingHttpHeaders } from 'node:http';

/** Fields where node:http keeps the first value and drops duplicates. */
const FIRST_WINS: ReadonlySet<string> = new Set([
  'age',
  'authorization',
  'content-length',
  'content-type',
  'etag',
  'expires',
  'from',
  'host',
  'if-modified-since',
  'if-unmodified-since',
  'last-modified',
  'location',
  'max-forwards',
  'proxy-authorization',
  'referer',
  'retry-after',
  'server',
  'user-agent',
]);

export function headersObject(raw: readonly string[]): IncomingHttpHeaders {
  const out: Record<string, string | string[]> = Object.create(null) as Record<string, string | string[]>;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = (raw[i] as string).toLowerCase();
    const value = raw[i + 1] as string;
    const prev = out[name];
    if (name === 'set-cookie') {
      if (prev === undefined) out[name] = [value];
      else (prev as string[]).push(value);
    } else if (prev === undefined) {
      out[name] = value;
    } else if (!FIRST_WINS.has(name)) {
      out[name] = prev + (name === 'cookie' ? '; ' : ', ') + value;
    }
  }
  return out as IncomingHttpHeaders;
}
