/**
 * An incremental HTTP/1.1 response parser: status line and headers, then a body framed by
 * Content-Length, chunked transfer coding, or the end of the connection.
 *
 * Body bytes are handed on as views of the buffer given to `execute` (no copies); the parser
 * keeps nothing of it after `execute` returns, so that buffer may be reused. The sink may ask the
 * parser to stop after any callback (`stopped = true`): `execute` then returns the offset it
 * reached, and the caller feeds the rest later. Errors are thrown as `ProxyError`
 * (`InvalidHTTPResponse`).
 *
 * A `101 Switching Protocols` answer to a request that asked for an upgrade ends HTTP on the
 * connection: the parser reports its head and stops there (`upgraded`); what follows is the new
 * protocol's, and `execute` returns where it starts.
 */
import { ProxyError } from '@pingora-ts/core';

/** Receives what the parser finds. */
export interface ResponseParserSink {
  /** A final (non-1xx) response head. `rawHeaders` is `[name, value, name, value, …]`. */
  onHead(status: number, reason: string, rawHeaders: string[]): void;
  /** One piece of the body, **not the whole body**; a view valid until the callback returns. */
  onBody(chunk: Buffer): void;
  /** The response is complete. `rawTrailers` holds chunked trailers, if any. */
  onComplete(rawTrailers: string[] | null): void;
}

/** Largest response head (status line + headers) accepted. */
export const MAX_HEAD_SIZE = 64 * 1024;

const S_HEAD = 0;
const S_LENGTH = 1;
const S_CHUNK_SIZE = 2;
const S_CHUNK_EXT = 3;
const S_CHUNK_SIZE_LF = 4;
const S_CHUNK_DATA = 5;
const S_CHUNK_DATA_CR = 6;
const S_CHUNK_DATA_LF = 7;
const S_TRAILERS = 8;
const S_UNTIL_CLOSE = 9;
const S_DONE = 10;
/** After a `101`: nothing more is HTTP. */
const S_UPGRADED = 11;

const CR = 13;
const LF = 10;

const isOws = (c: number): boolean => c === 32 || c === 9;

/**
 * A byte no head may hold: controls other than HTAB, CR and LF (RFC 9110 §5.5; node:http refuses
 * them when writing, and the proxy writes these values downstream). CR and LF are checked per
 * line: only as a CRLF pair.
 */
const FORBIDDEN_IN_HEAD = /[^\t\r\n\x20-\x7e\x80-\xff]/;

export class ResponseParser {
  /** Set by the sink (from inside a callback) to make `execute` return early. */
  stopped = false;
  /** Whether the connection may carry another request after this response. */
  keepAlive = true;
  /** Bytes of this response seen so far (head included). */
  bytesRead = 0;

  private state = S_DONE;
  private noBody = false;
  /** The request asked for a protocol upgrade: a `101` ends HTTP instead of being refused. */
  private upgradeAsked = false;
  private head: Buffer | null = null;
  private remaining = 0;
  private sizeDigits = 0;
  private extBytes = 0;
  private trailerLine = '';
  private trailers: string[] | null = null;

  constructor(private readonly sink: ResponseParserSink) {}

  /**
   * Prepares for the response to the next request. `headRequest`: the request was HEAD (no body
   * follows). `upgrade`: it asked for a protocol upgrade (a `101` may answer it).
   */
  reset(headRequest: boolean, upgrade = false): void {
    this.state = S_HEAD;
    this.noBody = headRequest;
    this.upgradeAsked = upgrade;
    this.head = null;
    this.keepAlive = true;
    this.bytesRead = 0;
    this.stopped = false;
    this.trailers = null;
    this.trailerLine = '';
  }

  /** True once the whole response has been parsed. */
  get done(): boolean {
    return this.state === S_DONE;
  }

  /** True once a `101` ended HTTP on the connection (the bytes after its head are the new protocol's). */
  get upgraded(): boolean {
    return this.state === S_UPGRADED;
  }

  /** True while the body runs until the peer closes the connection. */
  get readsUntilClose(): boolean {
    return this.state === S_UNTIL_CLOSE;
  }

  /** Body bytes still to come as far as known: exact with a Content-Length, `Infinity` when chunked or until close, 0 outside a body. */
  get bodyAhead(): number {
    if (this.state === S_LENGTH) return this.remaining;
    return this.state > S_LENGTH && this.state < S_DONE && this.state !== S_TRAILERS ? Infinity : 0;
  }

  /**
   * Parses `buf` from `start`. Returns the offset reached: `buf.length` when everything was
   * consumed, less when `stopped` was set or the response completed before the end of `buf`.
   */
  execute(buf: Buffer, start: number): number {
    let i = start;
    const len = buf.length;
    this.bytesRead += len - start;
    while (i < len && !this.stopped) {
      switch (this.state) {
        case S_HEAD: {
          i = this.parseHead(buf, i);
          break;
        }
        case S_LENGTH: {
          const n = Math.min(this.remaining, len - i);
          this.remaining -= n;
          const chunk = buf.subarray(i, i + n);
          i += n;
          if (this.remaining === 0) this.state = S_DONE;
          this.sink.onBody(chunk);
          if (this.state === S_DONE) this.sink.onComplete(null);
          break;
        }
        case S_UNTIL_CLOSE: {
          const chunk = i === 0 ? buf : buf.subarray(i);
          i = len;
          this.sink.onBody(chunk);
          break;
        }
        case S_CHUNK_SIZE: {
          const c = buf[i++] as number;
          const v = hexValue(c);
          if (v >= 0) {
            if (++this.sizeDigits > 13) throw invalid('chunk size too large');
            this.remaining = this.remaining * 16 + v;
          } else if (this.sizeDigits === 0) {
            throw invalid('bad chunk size line');
          } else if (c === CR) {
            this.state = S_CHUNK_SIZE_LF;
          } else if (c === 59 /* ; */ || c === 32 || c === 9) {
            this.state = S_CHUNK_EXT;
            this.extBytes = 0;
          } else {
            throw invalid('bad chunk size line');
          }
          break;
        }
        case S_CHUNK_EXT: {
          const c = buf[i++] as number;
          if (c === CR) this.state = S_CHUNK_SIZE_LF;
          else if (++this.extBytes > 4096 || c === LF) throw invalid('bad chunk extension');
          break;
        }
        case S_CHUNK_SIZE_LF: {
          if (buf[i++] !== LF) throw invalid('bad chunk size line ending');
          this.state = this.remaining === 0 ? S_TRAILERS : S_CHUNK_DATA;
          break;
        }
        case S_CHUNK_DATA: {
          const n = Math.min(this.remaining, len - i);
          this.remaining -= n;
          const chunk = buf.subarray(i, i + n);
          i += n;
          if (this.remaining === 0) this.state = S_CHUNK_DATA_CR;
          this.sink.onBody(chunk);
          break;
        }
        case S_CHUNK_DATA_CR: {
          if (buf[i++] !== CR) throw invalid('chunk data longer than its size');
          this.state = S_CHUNK_DATA_LF;
          break;
        }
        case S_CHUNK_DATA_LF: {
          if (buf[i++] !== LF) throw invalid('chunk data longer than its size');
          this.state = S_CHUNK_SIZE;
          this.sizeDigits = 0;
          this.remaining = 0;
          break;
        }
        case S_TRAILERS: {
          i = this.parseTrailers(buf, i);
          break;
        }
        default:
          // S_DONE: the caller decides what bytes after a complete response mean; S_UPGRADED:
          // they are the new protocol's.
          return i;
      }
    }
    if (i < len) this.bytesRead -= len - i;
    return i;
  }

  /**
   * The peer closed the connection (EOF). Completes a body that runs until close; otherwise
   * returns `false`: the response is incomplete.
   */
  finish(): boolean {
    if (this.state === S_UNTIL_CLOSE) {
      this.state = S_DONE;
      this.sink.onComplete(null);
      return true;
    }
    return this.state === S_DONE;
  }

  private parseHead(buf: Buffer, start: number): number {
    let data: Buffer;
    let searchFrom: number;
    const prev = this.head;
    if (prev === null) {
      data = start === 0 ? buf : buf.subarray(start);
      searchFrom = 0;
    } else {
      data = Buffer.concat([prev, start === 0 ? buf : buf.subarray(start)]);
      searchFrom = prev.length > 3 ? prev.length - 3 : 0;
    }
    const end = data.indexOf('\r\n\r\n', searchFrom, 'latin1');
    if (end < 0) {
      if (data.length > MAX_HEAD_SIZE) throw invalid('response head too large');
      // A copy: `buf` may be a read buffer that is reused once `execute` returns.
      this.head = prev === null ? Buffer.from(data) : data;
      return buf.length;
    }
    if (end > MAX_HEAD_SIZE) throw invalid('response head too large');
    this.head = null;
    const consumed = start + end + 4 - (prev === null ? 0 : prev.length);
    this.onHeadText(data.toString('latin1', 0, end));
    return consumed;
  }

  private onHeadText(text: string): void {
    const len = text.length;
    // Status line: HTTP/1.x SSS reason
    if (len < 12 || !text.startsWith('HTTP/1.') || text.charCodeAt(8) !== 32) throw invalid('bad status line');
    if (FORBIDDEN_IN_HEAD.test(text)) throw invalid('control character in head');
    const minor = text.charCodeAt(7) - 48;
    if (minor !== 0 && minor !== 1) throw invalid('unsupported HTTP version');
    const d0 = text.charCodeAt(9) - 48;
    const d1 = text.charCodeAt(10) - 48;
    const d2 = text.charCodeAt(11) - 48;
    if (d0 < 1 || d0 > 9 || d1 < 0 || d1 > 9 || d2 < 0 || d2 > 9) throw invalid('bad status code');
    const status = d0 * 100 + d1 * 10 + d2;
    let lineEnd = lineEndAt(text, 12);
    const sep = text.charCodeAt(12);
    if (lineEnd > 12 && sep !== 32) throw invalid('bad status line');
    const reason = lineEnd > 13 ? text.slice(13, lineEnd) : '';

    const raw: string[] = [];
    let contentLength = -1;
    let chunked = false;
    let otherCoding = false;
    let close = false;
    let keepAlive10 = false;
    let pos = lineEnd + 2;
    while (pos < len) {
      lineEnd = lineEndAt(text, pos);
      const first = text.charCodeAt(pos);
      if (first === 32 || first === 9) throw invalid('obsolete header line folding');
      const colon = text.indexOf(':', pos);
      if (colon <= pos || colon > lineEnd) throw invalid('bad header line');
      const last = text.charCodeAt(colon - 1);
      if (last === 32 || last === 9) throw invalid('whitespace before header colon');
      const name = text.slice(pos, colon);
      // Optional whitespace (SP, HTAB) around the value, found by index: no trimmed copy.
      let from = colon + 1;
      let to = lineEnd;
      while (from < to && isOws(text.charCodeAt(from))) from++;
      while (to > from && isOws(text.charCodeAt(to - 1))) to--;
      const value = text.slice(from, to);
      raw.push(name, value);
      switch (name.length) {
        case 14:
          if (equalsLower(name, 'content-length')) {
            const n = parseLength(value);
            if (n < 0 || (contentLength >= 0 && n !== contentLength)) throw invalid('bad content-length');
            contentLength = n;
          }
          break;
        case 17:
          if (equalsLower(name, 'transfer-encoding')) {
            const v = value.toLowerCase();
            if (v === 'chunked' || v.endsWith(',chunked') || v.endsWith(', chunked')) {
              chunked = true;
              otherCoding = v !== 'chunked';
            } else {
              chunked = false;
              otherCoding = true;
            }
          }
          break;
        case 10:
          if (equalsLower(name, 'connection')) {
            if (equalsLower(value, 'keep-alive')) {
              keepAlive10 = true;
            } else {
              const v = value.toLowerCase();
              if (hasToken(v, 'close')) close = true;
              if (hasToken(v, 'keep-alive')) keepAlive10 = true;
            }
          }
          break;
        default:
          break;
      }
      pos = lineEnd + 2;
    }

    if (status < 200) {
      if (status === 101) {
        if (!this.upgradeAsked) throw invalid('101 Switching Protocols to a request that asked for no upgrade');
        this.state = S_UPGRADED;
        this.keepAlive = false;
        this.sink.onHead(status, reason, raw);
        return;
      }
      // 1xx informational: skip it, a final response follows.
      return;
    }
    this.keepAlive = minor === 1 ? !close : keepAlive10 && !close;
    if (this.noBody || status === 204 || status === 304) {
      this.state = S_DONE;
    } else if (chunked || otherCoding) {
      if (contentLength >= 0 || otherCoding) this.keepAlive = false;
      if (chunked) {
        this.state = S_CHUNK_SIZE;
        this.sizeDigits = 0;
        this.remaining = 0;
      } else {
        this.state = S_UNTIL_CLOSE;
      }
    } else if (contentLength >= 0) {
      this.remaining = contentLength;
      this.state = contentLength === 0 ? S_DONE : S_LENGTH;
    } else {
      this.state = S_UNTIL_CLOSE;
      this.keepAlive = false;
    }
    this.sink.onHead(status, reason, raw);
    if (this.state === S_DONE) this.sink.onComplete(null);
  }

  private parseTrailers(buf: Buffer, start: number): number {
    const nl = buf.indexOf(LF, start);
    if (nl < 0) {
      this.trailerLine += buf.toString('latin1', start);
      if (this.trailerLine.length > MAX_HEAD_SIZE) throw invalid('trailers too large');
      return buf.length;
    }
    let line = this.trailerLine + buf.toString('latin1', start, nl);
    this.trailerLine = '';
    if (line.charCodeAt(line.length - 1) !== CR) throw invalid('bad trailer line ending');
    line = line.slice(0, -1);
    if (FORBIDDEN_IN_HEAD.test(line) || line.indexOf('\r') >= 0) throw invalid('control character in trailer');
    if (line.length === 0) {
      this.state = S_DONE;
      this.sink.onComplete(this.trailers);
      return nl + 1;
    }
    const colon = line.indexOf(':');
    if (colon <= 0) throw invalid('bad trailer line');
    (this.trailers ??= []).push(line.slice(0, colon), line.slice(colon + 1).trim());
    return nl + 1;
  }
}

/**
 * Where the line starting at `from` ends (its CR; the text's end for the last line). Throws
 * on a bare CR or LF: the first LF from `from` must follow a CR, and be the first CR's partner.
 */
function lineEndAt(text: string, from: number): number {
  const lf = text.indexOf('\n', from);
  const end = lf < 0 ? text.length : lf - 1;
  if ((lf >= 0 && text.charCodeAt(end) !== CR) || text.indexOf('\r', from) !== (lf < 0 ? -1 : end)) throw invalid('bare CR or LF in head');
  return end;
}

/** `s === lower` ignoring ASCII case, without allocating; `lower` is lower-case. */
function equalsLower(s: string, lower: string): boolean {
  if (s.length !== lower.length) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if ((c >= 65 && c <= 90 ? c + 32 : c) !== lower.charCodeAt(i)) return false;
  }
  return true;
}

function invalid(what: string): ProxyError {
  return ProxyError.upstream('InvalidHTTPResponse', `invalid HTTP response from upstream: ${what}`);
}

function hexValue(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
}

function parseLength(v: string): number {
  if (v.length === 0 || v.length > 15) return -1;
  let n = 0;
  for (let i = 0; i < v.length; i++) {
    const c = v.charCodeAt(i) - 48;
    if (c < 0 || c > 9) return -1;
    n = n * 10 + c;
  }
  return n;
}

/** Whether a lower-cased comma list holds `token` as a whole element. */
function hasToken(list: string, token: string): boolean {
  let from = 0;
  for (;;) {
    const at = list.indexOf(token, from);
    if (at < 0) return false;
    const before = at === 0 ? 44 : list.charCodeAt(at - 1);
    const afterPos = at + token.length;
    const after = afterPos >= list.length ? 44 : list.charCodeAt(afterPos);
    if ((before === 44 || before === 32 || before === 9) && (after === 44 || after === 32 || after === 9)) return true;
    from = at + 1;
  }
}
