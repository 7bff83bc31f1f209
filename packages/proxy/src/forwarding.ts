/**
 * Headers on their way through the proxy: hop-by-hop fields (RFC 9110 §7.6.1) are dropped in
 * both directions, and the request gains `X-Forwarded-For/-Proto/-Host`. One pass over the
 * headers; names are lower-cased only when their length could match.
 */
import type { HeaderList } from './header-list';
import type { RequestBodyFraming } from '@pingora-ts/pool';

/** What the downstream request head says about its body. */
export interface RequestBodyInfo {
  /** The request has a body (a non-zero Content-Length, or Transfer-Encoding). */
  hasBody: boolean;
}

/**
 * The headers to send upstream for a downstream request: hop-by-hop fields and `Expect` (the
 * proxy answers `100-continue` itself) dropped, `X-Forwarded-For` appended with `clientIp`,
 * `X-Forwarded-Proto` and `X-Forwarded-Host` set. `Host` passes unchanged.
 */
export function forwardRequestHeaders(raw: readonly string[], clientIp: string, proto: string, info: RequestBodyInfo): string[] {
  const tokens = connectionTokens(raw);
  const out: string[] = [];
  let xff: string | null = null;
  let host: string | null = null;
  let hasBody = false;
  let chunked = false;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i] as string;
    const value = raw[i + 1] as string;
    let lower: string | null = null;
    let drop = false;
    switch (name.length) {
      case 2:
        lower = name.toLowerCase();
        drop = lower === 'te';
        break;
      case 4:
        lower = name.toLowerCase();
        if (lower === 'host' && host === null) host = value;
        break;
      case 6:
        lower = name.toLowerCase();
        drop = lower === 'expect';
        break;
      case 7:
        lower = name.toLowerCase();
        drop = lower === 'trailer' || lower === 'upgrade';
        break;
      case 10:
        lower = name.toLowerCase();
        drop = lower === 'connection' || lower === 'keep-alive';
        break;
      case 14:
        lower = name.toLowerCase();
        if (lower === 'content-length' && value !== '0') hasBody = true;
        break;
      case 15:
        lower = name.toLowerCase();
        if (lower === 'x-forwarded-for') {
          xff = xff === null ? value : xff + ', ' + value;
          drop = true;
        }
        break;
      case 16:
        lower = name.toLowerCase();
        drop = lower === 'proxy-connection' || lower === 'x-forwarded-host';
        break;
      case 17:
        lower = name.toLowerCase();
        if (lower === 'transfer-encoding') {
          hasBody = true;
          chunked = true;
          drop = true;
        } else {
          drop = lower === 'x-forwarded-proto';
        }
        break;
      case 19:
        lower = name.toLowerCase();
        drop = lower === 'proxy-authorization';
        break;
      default:
        break;
    }
    if (drop) continue;
    if (tokens !== null && tokens.includes(lower ?? name.toLowerCase())) continue;
    out.push(name, value);
  }
  if (chunked) removeContentLength(out); // TE wins over CL (RFC 9112 §6.3); never forward both
  out.push('x-forwarded-for', xff === null ? clientIp : xff + ', ' + clientIp, 'x-forwarded-proto', proto);
  if (host !== null) out.push('x-forwarded-host', host);
  info.hasBody = hasBody;
  return out;
}

/**
 * The response headers to send downstream: hop-by-hop fields dropped, `Content-Length` kept
 * (unless the upstream also sent `Transfer-Encoding`, which framed the body instead).
 */
export function forwardResponseHeaders(raw: readonly string[]): string[] {
  const tokens = connectionTokens(raw);
  const out: string[] = [];
  let coded = false;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i] as string;
    let lower: string | null = null;
    let drop = false;
    switch (name.length) {
      case 2:
        lower = name.toLowerCase();
        drop = lower === 'te';
        break;
      case 7:
        lower = name.toLowerCase();
        drop = lower === 'trailer' || lower === 'upgrade';
        break;
      case 10:
        lower = name.toLowerCase();
        drop = lower === 'connection' || lower === 'keep-alive';
        break;
      case 16:
        lower = name.toLowerCase();
        drop = lower === 'proxy-connection';
        break;
      case 17:
        lower = name.toLowerCase();
        drop = lower === 'transfer-encoding';
        if (drop) coded = true;
        break;
      case 18:
        lower = name.toLowerCase();
        drop = lower === 'proxy-authenticate';
        break;
      default:
        break;
    }
    if (drop) continue;
    if (tokens !== null && tokens.includes(lower ?? name.toLowerCase())) continue;
    out.push(name, raw[i + 1] as string);
  }
  if (coded) removeContentLength(out);
  return out;
}

function removeContentLength(raw: string[]): void {
  let w = 0;
  for (let r = 0; r < raw.length; r += 2) {
    const n = raw[r] as string;
    if (n.length === 14 && n.toLowerCase() === 'content-length') continue;
    raw[w] = n;
    raw[w + 1] = raw[r + 1] as string;
    w += 2;
  }
  raw.length = w;
}

/**
 * Decides the upstream body framing from the final request head (after `upstreamRequestFilter`):
 * drops any `Transfer-Encoding` the filter added, adds `Host` (the peer address) when missing.
 * `'content-length'` when the head keeps a Content-Length, `'chunked'` otherwise.
 */
export function upstreamFraming(headers: HeaderList, hasBody: boolean, peerAddress: string): RequestBodyFraming {
  const raw = headers.raw;
  let hasLength = false;
  let hasHost = false;
  let hasCoding = false;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] as string;
    const n = name.length;
    if (n === 4) {
      if (name.toLowerCase() === 'host') hasHost = true;
    } else if (n === 14) {
      if (name.toLowerCase() === 'content-length') hasLength = true;
    } else if (n === 17) {
      if (name.toLowerCase() === 'transfer-encoding') hasCoding = true;
    }
  }
  if (hasCoding) headers.remove('transfer-encoding');
  if (!hasHost) headers.append('host', peerAddress);
  if (!hasBody) return 'none';
  return hasLength ? 'content-length' : 'chunked';
}

/** Lower-cased field names listed in `Connection` headers (besides close/keep-alive), or null. */
function connectionTokens(raw: readonly string[]): string[] | null {
  let tokens: string[] | null = null;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i] as string;
    if (name.length !== 10 || name.toLowerCase() !== 'connection') continue;
    for (const part of (raw[i + 1] as string).split(',')) {
      const t = part.trim().toLowerCase();
      if (t.length > 0 && t !== 'close' && t !== 'keep-alive') (tokens ??= []).push(t);
    }
  }
  return tokens;
}
