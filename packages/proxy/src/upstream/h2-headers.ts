/**
 * Heads between the HTTP/1-shaped model the hooks see (`RequestHeader`, `[name, value, …]`) and
 * HTTP/2 (RFC 9113 §8.2-8.3): the request gains `:method`, `:scheme`, `:authority` (from `Host`,
 * else the peer address) and `:path`, and loses the connection-specific fields (`connection`,
 * `keep-alive`, `proxy-connection`, `transfer-encoding`, `upgrade`, `http2-settings`, `host`, and any field the
 * `Connection` header names); `te` passes only as `te: trailers`. Responses and trailers lose
 * their pseudo-headers.
 */
import type { OutgoingHttpHeaders } from 'node:http2';
import { equalsLower } from '../equals-lower';
import { addH2Field, addH2Fields, isConnectionSpecific } from '../h2-fields';
import type { HttpPeer } from '../http-peer';
import type { RequestHeader } from '../request-header';

/** The HTTP/2 request headers for `request` sent to `peer`. */
export function h2RequestHeaders(request: RequestHeader, peer: HttpPeer): OutgoingHttpHeaders {
  const raw = request.headers.raw;
  const out: OutgoingHttpHeaders = {
    ':method': request.method,
    ':scheme': peer.tls ? 'https' : 'http',
    ':authority': peer.address,
    ':path': request.path,
  };
  let listed: string[] | null = null;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const lower = (raw[i] as string).toLowerCase();
    const value = raw[i + 1] as string;
    if (lower === 'host') {
      out[':authority'] = value;
    } else if (lower === 'te') {
      if (hasToken(value, 'trailers')) out.te = 'trailers';
    } else if (lower === 'connection') {
      for (const part of value.split(',')) {
        const t = part.trim().toLowerCase();
        if (t.length > 0) (listed ??= []).push(t);
      }
    } else if (!isConnectionSpecific(lower)) {
      addH2Field(out, lower, value);
    }
  }
  // `te: trailers` stays although HTTP/1.1 lists TE in Connection (RFC 9113 §8.2.2 allows it).
  if (listed !== null) for (const t of listed) if (t !== 'te' && t.charCodeAt(0) !== 58 /* : */) delete out[t];
  return out;
}

/** `[name, value, …]` of an HTTP/2 head or trailers without the pseudo-headers. */
export function withoutPseudo(raw: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i] as string;
    if (name.charCodeAt(0) === 58 /* : */) continue;
    out.push(name, raw[i + 1] as string);
  }
  return out;
}

/** Trailers (`[name, value, …]`) as HTTP/2 trailer fields (see `addH2Fields`). */
export function h2Trailers(raw: readonly string[] | null): OutgoingHttpHeaders {
  return addH2Fields({}, raw, false);
}

/** Whether a comma-separated `value` lists `token` (any case, parameters ignored). */
function hasToken(value: string, token: string): boolean {
  for (const part of value.split(',')) {
    const semi = part.indexOf(';');
    if (equalsLower((semi < 0 ? part : part.slice(0, semi)).trim(), token)) return true;
  }
  return false;
}
