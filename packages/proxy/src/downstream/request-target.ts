/**
 * The request-target forms of RFC 9112 §3.2, so that the upstream sees one unambiguous host:
 * origin-form (`/path?query`) passes as it is; absolute-form (`http://a.example/x`) is turned
 * into origin-form with the target's authority as `Host` (§3.2.2: a server ignores the received
 * `Host` then; forwarding both would let the proxy route on one host and the upstream, or a
 * cache behind it, answer for another); asterisk-form (`*`) only with `OPTIONS`. Anything
 * else (authority-form outside `CONNECT`, a target without a leading `/`, another scheme,
 * userinfo in the authority) is refused with 400.
 */
import { equalsLower } from '../equals-lower';
import type { HeadRefusal } from './request-checks';

/** A request target that is not in origin-form, refused (or null when it is fine). */
export function checkTargetForm(method: string, target: string): HeadRefusal | null {
  if (target.charCodeAt(0) === 47 /* / */) return null;
  if (target === '*') {
    return method === 'OPTIONS' ? null : refused(`asterisk-form target with ${method} (only OPTIONS may ask for *)`);
  }
  const at = schemeEnd(target);
  if (at < 0) return refused(`request target "${shorten(target)}" is neither origin-form nor absolute-form`);
  const scheme = target.slice(0, at).toLowerCase();
  if (scheme !== 'http' && scheme !== 'https') return refused(`absolute-form target with scheme "${scheme}" (only http and https)`);
  const authority = authorityOf(target, at + 3);
  if (!AUTHORITY.test(authority)) return refused(`absolute-form target without a valid host (or with userinfo): "${shorten(target)}"`);
  return null;
}

/**
 * The head to serve for an absolute-form target (checked by `checkTargetForm`): its path and
 * query in origin-form, and the raw headers with `Host` set to its authority. Null for any
 * other form (nothing to change).
 */
export function originFormOf(target: string, raw: readonly string[]): { target: string; rawHeaders: string[] } | null {
  const at = schemeEnd(target);
  if (at < 0) return null;
  const start = at + 3;
  const authority = authorityOf(target, start);
  let rest = target.slice(start + authority.length);
  const hash = rest.indexOf('#');
  if (hash >= 0) rest = rest.slice(0, hash);
  const path = rest.charCodeAt(0) === 47 ? rest : '/' + rest;
  const rawHeaders: string[] = [];
  let hosts = 0;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i] as string;
    const isHost = name.length === 4 && equalsLower(name, 'host');
    if (isHost) hosts++;
    rawHeaders.push(name, isHost ? authority : (raw[i + 1] as string));
  }
  if (hosts === 0) rawHeaders.push('Host', authority);
  return { target: path, rawHeaders };
}

/** `host`, `host:port`, `[v6]:port`: RFC 3986 reg-name or IP literal, no userinfo. */
const AUTHORITY = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9\-._~%!$&'()*+,;=]+)(?::[0-9]*)?$/;

/** Where `scheme://` ends its scheme (the index of `:`), or -1 when `target` does not start with one. */
function schemeEnd(target: string): number {
  const colon = target.indexOf('://');
  if (colon <= 0) return -1;
  for (let i = 0; i < colon; i++) {
    const c = target.charCodeAt(i);
    const alpha = (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
    if (!alpha && (i === 0 || !((c >= 48 && c <= 57) || c === 43 || c === 45 || c === 46))) return -1;
  }
  return colon;
}

/** The authority that starts at `start`: up to the first `/`, `?` or `#`. */
function authorityOf(target: string, start: number): string {
  let end = start;
  while (end < target.length) {
    const c = target.charCodeAt(end);
    if (c === 47 || c === 63 || c === 35) break;
    end++;
  }
  return target.slice(start, end);
}

function refused(detail: string): HeadRefusal {
  return { status: 400, code: 'INVALID_REQUEST_TARGET', detail };
}

function shorten(s: string): string {
  return s.length > 64 ? s.slice(0, 64) + '…' : s;
}
