/**
 * Headers on their way through the proxy: hop-by-hop fields (RFC 9110 §7.6.1) are dropped in
 * both directions, and the request gains `X-Forwarded-For/-Proto/-Host`. One pass over the
 * headers, switching on the name's length and comparing without allocating; a second pass
 * only when a `Connection` header lists more fields to drop.
 *
 * A protocol switch is the exception (RFC 9110 §7.8): a request whose `Connection` lists
 * `upgrade` keeps its `Upgrade` field and goes upstream with `Connection: upgrade`, and a `101`
 * answer keeps them on its way back (`switchingResponseHeaders`).
 */
import type { RequestBodyFraming } from '@pingora-ts/pool';
import { isZero, switchableUpgrade } from './downstream/request-checks';
import { equalsLower } from './equals-lower';
import type { HeaderList } from './header-list';

/** What the downstream request head says about its body. */
export interface RequestBodyInfo {
  /** The request has a body (a non-zero Content-Length, or Transfer-Encoding). */
  hasBody: boolean;
  /** The request asks for a protocol switch: its `Upgrade` value (kept upstream), else null. */
  upgrade: string | null;
}

/**
 * The headers to send upstream for a downstream request: hop-by-hop fields and `Expect` (the
 * proxy answers `100-continue` itself) dropped, `X-Forwarded-For` appended with `clientIp`,
 * `X-Forwarded-Proto` and `X-Forwarded-Host` set. `Host` passes unchanged. `TE` passes only as
 * `te: trailers` with `Connection: te` (the proxy forwards trailers, and gRPC servers want it);
 * other codings are dropped.
 */
export function forwardRequestHeaders(raw: readonly string[], clientIp: string, proto: string, info: RequestBodyInfo): string[] {
  const out: string[] = [];
  let xff: string | null = null;
  let host: string | null = null;
  let hasBody = false;
  let chunked = false;
  let listed = false;
  let upgrade: string | null = null;
  let trailers = false;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i] as string;
    const value = raw[i + 1] as string;
    if (isHopByHop(name)) {
      if (name.length === 7 && equalsLower(name, 'upgrade')) upgrade = upgrade === null ? value : upgrade + ', ' + value;
      if (name.length === 2 && acceptsTrailers(value)) trailers = true;
      continue;
    }
    switch (name.length) {
      case 4:
        if (host === null && equalsLower(name, 'host')) host = value;
        break;
      case 6:
        if (equalsLower(name, 'expect')) continue;
        break;
      case 10:
        if (equalsLower(name, 'connection')) {
          if (listsFields(value)) listed = true;
          continue;
        }
        break;
      case 14:
        if (equalsLower(name, 'content-length') && !isZero(value)) hasBody = true;
        break;
      case 15:
        if (equalsLower(name, 'x-forwarded-for')) {
          xff = xff === null ? value : xff + ', ' + value;
          continue;
        }
        break;
      case 16:
        if (equalsLower(name, 'x-forwarded-host')) continue;
        break;
      case 17:
        if (equalsLower(name, 'transfer-encoding')) {
          hasBody = true;
          chunked = true;
          continue;
        }
        if (equalsLower(name, 'x-forwarded-proto')) continue;
        break;
      case 19:
        if (equalsLower(name, 'proxy-authorization')) continue;
        break;
      default:
        break;
    }
    out.push(name, value);
  }
  let switching = false;
  if (listed) {
    const tokens = connectionTokens(raw);
    removeNamed(out, tokens);
    if (upgrade !== null && tokens.includes('upgrade')) {
      upgrade = switchableUpgrade(upgrade);
      switching = upgrade !== null;
    }
  }
  if (chunked) removeNamed(out, ['content-length']); // TE wins over CL (RFC 9112 §6.3); never forward both
  // A protocol switch is asked of the upstream as the client asked it (hop-by-hop, so re-added).
  if (switching) out.push('connection', 'upgrade', 'upgrade', upgrade as string);
  // TE is hop-by-hop too: a sender of it lists it in Connection (RFC 9110 §10.1.4). HTTP/2
  // upstreams get it as `te: trailers` alone (h2RequestHeaders keeps it despite the listing).
  if (trailers) out.push('te', 'trailers', 'connection', 'te');
  out.push('x-forwarded-for', xff === null ? clientIp : xff + ', ' + clientIp, 'x-forwarded-proto', proto);
  if (host !== null) out.push('x-forwarded-host', host);
  info.hasBody = hasBody;
  info.upgrade = switching ? upgrade : null;
  return out;
}

/**
 * The response headers to send downstream: hop-by-hop fields dropped, `Content-Length` kept
 * (unless the upstream also sent `Transfer-Encoding`, which framed the body instead).
 */
export function forwardResponseHeaders(raw: readonly string[]): string[] {
  const out: string[] = [];
  let coded = false;
  let listed = false;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i] as string;
    const value = raw[i + 1] as string;
    if (isHopByHop(name)) continue;
    switch (name.length) {
      case 10:
        if (equalsLower(name, 'connection')) {
          if (listsFields(value)) listed = true;
          continue;
        }
        break;
      case 17:
        if (equalsLower(name, 'transfer-encoding')) {
          coded = true;
          continue;
        }
        break;
      case 18:
        if (equalsLower(name, 'proxy-authenticate')) continue;
        break;
      default:
        break;
    }
    out.push(name, value);
  }
  if (listed) removeNamed(out, connectionTokens(raw));
  if (coded) removeNamed(out, ['content-length']);
  return out;
}

/**
 * The headers to send downstream with a `101 Switching Protocols`: as `forwardResponseHeaders`,
 * plus `Connection: upgrade` and the upstream's `Upgrade` (the protocol switched to).
 */
export function switchingResponseHeaders(raw: readonly string[]): string[] {
  const out = forwardResponseHeaders(raw);
  let upgrade: string | null = null;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    if (equalsLower(raw[i] as string, 'upgrade')) upgrade = upgrade === null ? (raw[i + 1] as string) : upgrade + ', ' + (raw[i + 1] as string);
  }
  out.push('connection', 'upgrade');
  if (upgrade !== null) out.push('upgrade', upgrade);
  return out;
}

/**
 * The hop-by-hop fields dropped in both directions with nothing else to note (RFC 9110
 * §7.6.1): `Connection` and `Transfer-Encoding` are dropped by each direction itself, since
 * they also decide other things.
 */
function isHopByHop(name: string): boolean {
  switch (name.length) {
    case 2:
      return equalsLower(name, 'te');
    case 7:
      return equalsLower(name, 'trailer') || equalsLower(name, 'upgrade');
    case 10:
      return equalsLower(name, 'keep-alive');
    case 16:
      return equalsLower(name, 'proxy-connection');
    default:
      return false;
  }
}

/** Whether a `TE` value lists `trailers`. */
function acceptsTrailers(value: string): boolean {
  if (equalsLower(value, 'trailers')) return true;
  for (const part of value.split(',')) {
    const semi = part.indexOf(';');
    if (equalsLower((semi < 0 ? part : part.slice(0, semi)).trim(), 'trailers')) return true;
  }
  return false;
}

/** Removes every field named in `lower` (lower-case names) from `raw`, in place. */
function removeNamed(raw: string[], lower: readonly string[]): void {
  let w = 0;
  for (let r = 0; r < raw.length; r += 2) {
    const n = raw[r] as string;
    if (lower.includes(n.toLowerCase())) continue;
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
      if (equalsLower(name, 'host')) hasHost = true;
    } else if (n === 14) {
      if (equalsLower(name, 'content-length')) hasLength = true;
    } else if (n === 17) {
      if (equalsLower(name, 'transfer-encoding')) hasCoding = true;
    }
  }
  if (hasCoding) headers.remove('transfer-encoding');
  if (!hasHost) headers.append('host', peerAddress);
  if (!hasBody) return 'none';
  return hasLength ? 'content-length' : 'chunked';
}

/** Whether a `Connection` value lists a field (anything besides `close` and `keep-alive`). */
function listsFields(value: string): boolean {
  if (equalsLower(value, 'keep-alive') || equalsLower(value, 'close')) return false;
  for (const part of value.split(',')) {
    const t = part.trim().toLowerCase();
    if (t.length > 0 && t !== 'close' && t !== 'keep-alive') return true;
  }
  return false;
}

/** Lower-cased field names listed in `Connection` headers (besides close/keep-alive). */
function connectionTokens(raw: readonly string[]): string[] {
  const tokens: string[] = [];
  for (let i = 0; i + 1 < raw.length; i += 2) {
    if (!equalsLower(raw[i] as string, 'connection')) continue;
    for (const part of (raw[i + 1] as string).split(',')) {
      const t = part.trim().toLowerCase();
      if (t.length > 0 && t !== 'close' && t !== 'keep-alive') tokens.push(t);
    }
  }
  return tokens;
}
