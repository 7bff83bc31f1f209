/**
 * Builds a downstream response head once, as one latin1 string, and decides the body framing:
 * `Content-Length` when the head has one, chunked for HTTP/1.1 clients otherwise, and
 * close-delimited for HTTP/1.0 clients (node:http's rules). `Transfer-Encoding` from the
 * headers is dropped (the proxy frames bodies itself); a `Connection` header set by a hook is
 * kept and its `close` honoured, otherwise `Connection: keep-alive` + `Keep-Alive` or
 * `Connection: close` is added.
 */
import { STATUS_CODES } from 'node:http';
import { equalsLower } from '../equals-lower';
import { checkValue } from '../header-list';

/** No body: HEAD, 1xx, 204, 304. */
export const FRAMING_NONE = 0;
/** `Content-Length` bytes follow. */
export const FRAMING_LENGTH = 1;
/** Chunked transfer coding. */
export const FRAMING_CHUNKED = 2;
/** The body runs until the connection closes (HTTP/1.0 client, no length). */
export const FRAMING_CLOSE = 3;

/** What the head builder decided, written into the response it builds for. */
export interface ResponseFraming {
  framing: number;
  keepAlive: boolean;
}

/**
 * The head for `status` + `rawHeaders`; sets `out.framing` and `out.keepAlive`.
 * `keepAliveLines` is `Connection: keep-alive\r\nKeep-Alive: timeout=N\r\n`, built once per listener.
 */
export function responseHead(
  status: number,
  reason: string,
  raw: readonly string[],
  headRequest: boolean,
  http11: boolean,
  wantKeepAlive: boolean,
  keepAliveLines: string,
  out: ResponseFraming,
): string {
  let head = 'HTTP/1.1 ' + status + ' ' + (reason !== '' ? reason : (STATUS_CODES[status] ?? 'Unknown')) + '\r\n';
  let hasLength = false;
  let connection = false;
  let close = false;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i] as string;
    const value = raw[i + 1] as string;
    if (name.length === 14) {
      if (equalsLower(name, 'content-length')) hasLength = true;
    } else if (name.length === 17) {
      if (equalsLower(name, 'transfer-encoding')) continue;
    } else if (name.length === 10 && equalsLower(name, 'connection')) {
      connection = true;
      if (hasCloseToken(value)) close = true;
    }
    head += name + ': ' + value + '\r\n';
  }
  let framing: number;
  if (headRequest || status < 200 || status === 204 || status === 304) framing = FRAMING_NONE;
  else if (hasLength) framing = FRAMING_LENGTH;
  else if (http11) framing = FRAMING_CHUNKED;
  else framing = FRAMING_CLOSE;
  const keepAlive = wantKeepAlive && !close && framing !== FRAMING_CLOSE;
  if (!connection) head += keepAlive ? keepAliveLines : 'Connection: close\r\n';
  if (framing === FRAMING_CHUNKED) head += 'Transfer-Encoding: chunked\r\n';
  out.framing = framing;
  out.keepAlive = keepAlive;
  return head + '\r\n';
}

/** Whether a `Connection` value lists `close` (any case). */
function hasCloseToken(value: string): boolean {
  if (value.length === 5) return equalsLower(value, 'close');
  const lower = value.toLowerCase();
  let from = 0;
  for (;;) {
    const at = lower.indexOf('close', from);
    if (at < 0) return false;
    const before = at === 0 ? 44 : lower.charCodeAt(at - 1);
    const after = at + 5 >= lower.length ? 44 : lower.charCodeAt(at + 5);
    if ((before === 44 || before === 32 || before === 9) && (after === 44 || after === 32 || after === 9)) return true;
    from = at + 1;
  }
}

/** The last chunk of a chunked body, with the trailer fields (their values checked as header text). */
export function lastChunk(trailers: readonly string[] | null): string {
  if (trailers === null || trailers.length === 0) return '0\r\n\r\n';
  let out = '0\r\n';
  for (let i = 0; i + 1 < trailers.length; i += 2) {
    const name = trailers[i] as string;
    out += name + ': ' + checkValue(name, trailers[i + 1] as string) + '\r\n';
  }
  return out + '\r\n';
}
