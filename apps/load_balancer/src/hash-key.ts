import type { Session } from '@pingora-ts/proxy';

/** The `upstreams.hash_key` forms, for messages and docs. */
export const HASH_KEY_FORMS = 'uri, path, client_ip, header:NAME, cookie:NAME or query:NAME';

const URI = 0;
const PATH = 1;
const CLIENT_IP = 2;
const HEADER = 3;
const COOKIE = 4;
const QUERY = 5;

/** A token: what a header name, a cookie name or a query parameter name may be here. */
const NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** Whether `spec` is a valid `hash_key` (see `HashKey`). */
export function isHashKey(spec: string): boolean {
  if (spec === 'uri' || spec === 'path' || spec === 'client_ip') return true;
  const colon = spec.indexOf(':');
  if (colon < 0) return false;
  const kind = spec.slice(0, colon);
  return (kind === 'header' || kind === 'cookie' || kind === 'query') && NAME.test(spec.slice(colon + 1));
}

/**
 * What a hashing selection balances on, read from the request (`upstreams.hash_key`):
 * - `uri`: the request target as received, path and query (nginx's `$request_uri`);
 * - `path`: the target up to `?`;
 * - `client_ip`: the client's IP address;
 * - `header:NAME`: the first `NAME` header (case-insensitive name);
 * - `cookie:NAME`: the value of cookie `NAME`;
 * - `query:NAME`: the value of query parameter `NAME`, as sent (not percent-decoded, as nginx's `$arg_NAME`).
 *
 * `of()` returns `null` when the request has no such value (or an empty one): the caller
 * then falls back to round robin. No regex and no parsing beyond the one value asked for.
 */
export class HashKey {
  private readonly kind: number;
  /** Header name lower-cased, cookie or query parameter name as written. */
  private readonly name: string;

  /** `spec` must pass `isHashKey` (the config schema checks it). */
  constructor(spec: string) {
    const colon = spec.indexOf(':');
    const kind = colon < 0 ? spec : spec.slice(0, colon);
    this.name = colon < 0 ? '' : spec.slice(colon + 1);
    switch (kind) {
      case 'uri':
        this.kind = URI;
        break;
      case 'path':
        this.kind = PATH;
        break;
      case 'client_ip':
        this.kind = CLIENT_IP;
        break;
      case 'header':
        this.kind = HEADER;
        this.name = this.name.toLowerCase();
        break;
      case 'cookie':
        this.kind = COOKIE;
        break;
      case 'query':
        this.kind = QUERY;
        break;
      default:
        throw new TypeError(`invalid hash_key "${spec}": expected ${HASH_KEY_FORMS}`);
    }
    if (this.kind >= HEADER && !NAME.test(this.name)) throw new TypeError(`invalid hash_key "${spec}": expected ${HASH_KEY_FORMS}`);
  }

  /** The key of this request, or `null` when it has none. */
  of(session: Session): string | null {
    switch (this.kind) {
      case URI:
        return nonEmpty(session.path);
      case PATH: {
        const target = session.path;
        const q = target.indexOf('?');
        return nonEmpty(q < 0 ? target : target.slice(0, q));
      }
      case CLIENT_IP:
        return nonEmpty(session.clientAddr);
      case HEADER:
        return headerValue(session.rawHeaders, this.name);
      case COOKIE:
        return cookieValue(session.rawHeaders, this.name);
      default:
        return queryValue(session.path, this.name);
    }
  }
}

function nonEmpty(s: string): string | null {
  return s.length === 0 ? null : s;
}

/** Whether `a` equals the lower-case `lower`, ignoring ASCII case. */
function equalsLower(a: string, lower: string): boolean {
  if (a.length !== lower.length) return false;
  for (let i = 0; i < a.length; i++) {
    let c = a.charCodeAt(i);
    if (c >= 65 && c <= 90) c += 32;
    if (c !== lower.charCodeAt(i)) return false;
  }
  return true;
}

function headerValue(raw: readonly string[], lowerName: string): string | null {
  for (let i = 0; i + 1 < raw.length; i += 2) {
    if (equalsLower(raw[i]!, lowerName)) {
      const v = raw[i + 1]!.trim();
      return v.length === 0 ? null : v;
    }
  }
  return null;
}

/** `name`'s value in `name=value` pairs separated by `sep` within `s[from, to)`, or null. */
function pairValue(s: string, from: number, to: number, sep: string, name: string): string | null {
  let i = from;
  while (i < to) {
    let end = s.indexOf(sep, i);
    if (end < 0 || end > to) end = to;
    // Skip the blanks after a cookie's `;`.
    let start = i;
    while (start < end && s.charCodeAt(start) === 32) start++;
    if (end - start > name.length && s.charCodeAt(start + name.length) === 61 && s.startsWith(name, start)) {
      const v = s.slice(start + name.length + 1, end).trim();
      return v.length === 0 ? null : v;
    }
    i = end + 1;
  }
  return null;
}

function cookieValue(raw: readonly string[], name: string): string | null {
  // HTTP/2 may send each cookie in a header of its own: look in all of them.
  for (let i = 0; i + 1 < raw.length; i += 2) {
    if (!equalsLower(raw[i]!, 'cookie')) continue;
    const v = raw[i + 1]!;
    const found = pairValue(v, 0, v.length, ';', name);
    if (found !== null) return found;
  }
  return null;
}

function queryValue(target: string, name: string): string | null {
  const q = target.indexOf('?');
  if (q < 0) return null;
  let end = target.indexOf('#', q);
  if (end < 0) end = target.length;
  return pairValue(target, q + 1, end, '&', name);
}
