/**
 * One HTTP/2 request on the downstream side (`DownstreamSession` over a node:http2
 * `ServerHttp2Stream`, core API). The head is mapped to what the phase logic sees on
 * HTTP/1.1: `:method`, `:path` as the target, `:authority` as a `Host` header at the front of
 * `rawHeaders`, `:scheme` as `scheme`, split `cookie` fields joined (RFC 9113 §8.2.3).
 *
 * Flow control is the stream's own: the request body is read only while a sink takes it
 * (a paused stream stops consuming its window, so a slow upstream stalls only this stream),
 * and a response `write` that returns false waits for the stream's `'drain'`. Connection-level
 * (hop-by-hop) response fields are dropped, since node:http2 refuses them. No closures per
 * stream or chunk: stream events go to shared functions that find the session by a symbol.
 */
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';
import { constants, type ServerHttp2Stream } from 'node:http2';
import { ProxyError } from '@pingora-ts/core';
import { equalsLower } from '../equals-lower';
import type { BodySink } from '../flow/body-sink';
import { addH2Fields } from '../h2-fields';
import { checkValue } from '../header-list';
import type { DownstreamAccess } from '../session';
import { clientIpOf } from './client-ip';
import type { DownstreamEvents, DownstreamSession } from './downstream-session';
import { headersObject } from './headers-object';
import { rawHeaderList } from './node-http-session';

const kSession = Symbol('pingora-ts.http2Session');
/** `destroy`'s error for a stream the proxy resets (node:http2 sends RST_STREAM INTERNAL_ERROR for it). */
const RESET_BY_PROXY = new Error('stream reset by the proxy');

interface TaggedStream extends ServerHttp2Stream {
  [kSession]: Http2DownstreamSession;
}

/** What a stream needs from the connection it came on (kept: `stream.session` is gone once it closed). */
export interface Http2StreamOwner {
  readonly tls: boolean;
  readonly remoteAddress: string | undefined;
  readonly remotePort: number | undefined;
  /** A response write is blocked on the peer's window (`since` a time) or no longer (0). */
  blocked(session: Http2DownstreamSession, since: number): void;
  /** The request's body is still coming (watched against `requestTimeoutMs`) or no longer. */
  bodyPending(session: Http2DownstreamSession, pending: boolean): void;
  /** Longest time to receive a whole request, body included (0: none). */
  readonly requestTimeoutMs: number;
  /** The client reset a stream before its response ended. */
  clientReset(): void;
}

export class Http2DownstreamSession implements DownstreamSession {
  readonly method: string;
  readonly target: string;
  readonly rawHeaders: string[];
  readonly httpVersion = '2.0';
  readonly scheme: 'http' | 'https';
  /** The stream carries a body its headers do not count (no `Content-Length`). */
  readonly unframedBody: boolean;
  status = 0;
  bytesSent = 0;
  headersSent = false;
  /** When a blocked write began (`Date.now()`), 0 when none is. */
  blockedSince = 0;
  /** When the request body must have arrived (`requestTimeoutMs`), 0 when it has or there is no limit. */
  bodyDeadline = 0;
  private events: DownstreamEvents | null = null;
  private sink: BodySink | null = null;
  private discarding = false;
  private bodyPaused = false;
  private reading = false;
  private trailersIn: string[] | null = null;
  private ended = false;
  private failed = false;
  /** The response was answered with `waitForTrailers`: `end` sends these (or none). */
  private waitTrailers = false;
  private trailersOut: readonly string[] | null = null;
  /**
   * A head written but not sent yet: it goes with the first body bytes, or alone at `end` (with
   * END_STREAM when the response has no body, so a gRPC trailers-only answer stays one), or on
   * the next macrotask after `flushHead` (an upstream's end-of-stream arrives within ticks).
   */
  private headPending: OutgoingHttpHeaders | null = null;
  private flushQueued = false;
  /** The proxy reset the stream itself (not counted as the client's reset). */
  private proxyReset = false;
  private headerObject: IncomingHttpHeaders | null = null;
  /** The request asked for trailers (`te: trailers`, as gRPC clients do). */
  private wantsTrailers = false;
  private drainListened = false;

  constructor(
    readonly stream: ServerHttp2Stream,
    raw: readonly string[],
    private readonly owner: Http2StreamOwner,
  ) {
    let method = '';
    let path = '';
    let authority: string | null = null;
    let hasLength = false;
    let hasHost = false;
    let cookie: string | null = null;
    const out: string[] = [];
    for (let i = 0; i + 1 < raw.length; i += 2) {
      const name = raw[i] as string;
      const value = raw[i + 1] as string;
      if (name.charCodeAt(0) === 58 /* : */) {
        if (name === ':method') method = value;
        else if (name === ':path') path = value;
        else if (name === ':authority') authority = value;
        continue;
      }
      switch (name.length) {
        case 2:
          if (name === 'te' && equalsLower(value, 'trailers')) this.wantsTrailers = true;
          break;
        case 4:
          if (name === 'host') hasHost = true;
          break;
        case 6:
          if (name === 'cookie') {
            cookie = cookie === null ? value : cookie + '; ' + value;
            continue;
          }
          break;
        case 14:
          if (name === 'content-length') hasLength = true;
          break;
        default:
          break;
      }
      out.push(name, value);
    }
    if (cookie !== null) out.push('cookie', cookie);
    // Host first, as an HTTP/1.1 client writes it; a Host that differs from :authority never gets
    // here (refused as malformed, RFC 9113 §8.3.1).
    if (authority !== null && !hasHost) out.unshift('host', authority);
    this.method = method;
    this.target = path === '' && method === 'OPTIONS' ? '*' : path;
    this.rawHeaders = out;
    // The connection says which, as on HTTP/1.1: a client's `:scheme` is not trusted for X-Forwarded-Proto.
    this.scheme = owner.tls ? 'https' : 'http';
    this.unframedBody = !hasLength && !stream.readableEnded && !stream.endAfterHeaders;
    (stream as TaggedStream)[kSession] = this;
    // Few listeners per stream, each a shared function: 'close' and 'error' come through the
    // front (`http2SessionOf`), 'drain' only once a write is blocked, 'trailers' only where a
    // body may follow.
    if (!stream.endAfterHeaders) {
      stream.on('trailers', onStreamTrailers);
      if (owner.requestTimeoutMs > 0) {
        this.bodyDeadline = Date.now() + owner.requestTimeoutMs;
        owner.bodyPending(this, true);
      }
    }
  }

  get headers(): IncomingHttpHeaders {
    return (this.headerObject ??= headersObject(this.rawHeaders));
  }

  get access(): DownstreamAccess {
    throw new TypeError('session.downstream (node:http request and response) exists only on HTTP/1.1 with the HttpProxy option downstream: "node:http"');
  }

  get gone(): boolean {
    return this.stream.destroyed && !this.ended;
  }

  clientIp(): string {
    return clientIpOf(this.owner.remoteAddress);
  }

  clientPort(): number {
    return this.owner.remotePort ?? 0;
  }

  setEvents(events: DownstreamEvents): void {
    this.events = events;
  }

  readBody(sink: BodySink): void {
    this.sink = sink;
    this.discarding = false;
    if (!this.reading) {
      this.reading = true;
      this.stream.on('data', onStreamData);
      this.stream.on('end', onStreamEnd);
    }
    if (this.stream.readableEnded) {
      this.bodyEnded();
      return;
    }
    if (this.bodyPaused) this.stream.pause();
    else this.stream.resume();
  }

  pauseBody(): void {
    this.bodyPaused = true;
    if (this.reading) this.stream.pause();
  }

  resumeBody(): void {
    this.bodyPaused = false;
    if (this.reading && (this.sink !== null || this.discarding)) this.stream.resume();
  }

  stopBody(discard: boolean): void {
    this.sink = null;
    this.discarding = discard;
    if (this.ended) {
      this.stopUnreadBody();
      return;
    }
    if (!this.reading) return;
    if (discard) this.stream.resume();
    else this.stream.pause();
  }

  writeHead(status: number, _reason: string, rawHeaders: string[]): void {
    if (this.headersSent) throw new Error('response headers were already sent');
    const headers = responseHeaders(status, rawHeaders);
    const noBody = this.method === 'HEAD' || status === 204 || status === 304;
    this.waitTrailers = !noBody && (this.wantsTrailers || headers.trailer !== undefined || isGrpc(headers['content-type']));
    if (noBody) {
      if (!this.stream.destroyed) this.stream.respond(headers, { endStream: true });
      this.ended = true;
    } else {
      this.headPending = headers;
    }
    this.headersSent = true;
    this.status = status;
  }

  write(chunk: Buffer): boolean {
    const stream = this.stream;
    if (this.ended || stream.destroyed) return true;
    this.bytesSent += chunk.length;
    if (chunk.length === 0) return true;
    if (this.headPending !== null) this.sendHead(false);
    if (stream.write(chunk)) return true;
    if (!this.drainListened) {
      this.drainListened = true;
      stream.on('drain', onStreamDrain);
    }
    this.blockedSince = Date.now();
    this.owner.blocked(this, this.blockedSince);
    return false;
  }

  flushHead(): void {
    if (this.headPending === null || this.flushQueued) return;
    this.flushQueued = true;
    setImmediate(flushHeadSoon, this);
  }

  /** @internal Sends a head that no body bytes carried out (see `flushHead`). */
  flushNow(): void {
    this.flushQueued = false;
    if (this.headPending !== null && !this.ended) this.sendHead(false);
  }

  private sendHead(endStream: boolean): void {
    const headers = this.headPending as OutgoingHttpHeaders;
    this.headPending = null;
    if (this.stream.closed || this.stream.destroyed) return;
    try {
      this.stream.respond(headers, { endStream, waitForTrailers: !endStream && this.waitTrailers });
    } catch (err) {
      // Sent late (with the first body bytes, at the end, or after flushHead): no caller to throw to.
      this.refused(err);
    }
  }

  /** node:http2 refused a head or trailers the proxy passed on: this stream fails, nothing else. */
  private refused(err: unknown): void {
    this.ended = true;
    this.resetByProxy(constants.NGHTTP2_INTERNAL_ERROR);
    this.fail(ProxyError.upstream('InvalidHTTPResponse', `HTTP/2 refused the response fields: ${err instanceof Error ? err.message : String(err)}`));
  }

  /**
   * RST_STREAM sent by the proxy (not the client's reset: it does not count against the client).
   * INTERNAL_ERROR goes through `destroy`: `close(code)` first ends the writable side, and with
   * nothing queued the client would see END_STREAM before the reset, so a body cut short by
   * the upstream would look complete.
   */
  private resetByProxy(code: number): void {
    this.proxyReset = true;
    const stream = this.stream;
    if (stream.closed || stream.destroyed) return;
    if (code === constants.NGHTTP2_INTERNAL_ERROR) stream.destroy(RESET_BY_PROXY);
    else stream.close(code);
  }

  end(trailers: readonly string[] | null): void {
    if (this.ended) return;
    this.ended = true;
    this.unblock();
    const stream = this.stream;
    if (stream.destroyed) return;
    if (this.headPending !== null) {
      // No body byte went out: HEADERS with END_STREAM, unless there are trailers to send.
      const bare = trailers === null || trailers.length === 0;
      this.sendHead(bare);
      if (bare) {
        this.stopUnreadBody();
        return;
      }
    }
    if (this.waitTrailers) {
      this.trailersOut = trailers;
      stream.once('wantTrailers', onWantTrailers);
      stream.end();
      return; // stopUnreadBody after the trailers: a closed stream cannot send them
    }
    stream.end();
    this.stopUnreadBody();
  }

  /**
   * The response is complete but nobody reads the rest of the request body: RST_STREAM
   * (NO_ERROR) after the response asks the client to stop sending it (RFC 9113 §8.1), so the
   * stream gives back its concurrency slot and its window instead of waiting half-closed.
   */
  private stopUnreadBody(): void {
    const stream = this.stream;
    // Discarding (HTTP/1.1's way to keep a connection usable) is no reason to wait on HTTP/2.
    // A request whose HEADERS ended the stream (a GET) has nothing unread: no RST for it.
    if (this.sink !== null || stream.endAfterHeaders || stream.readableEnded || stream.closed || stream.destroyed) return;
    this.proxyReset = true;
    stream.close(constants.NGHTTP2_NO_ERROR); // sent once the response's last frame went out
  }

  respond(status: number, headers: OutgoingHttpHeaders | readonly string[] | undefined, body: string | Uint8Array | undefined): void {
    if (this.headersSent) throw new Error('response headers were already sent');
    const buf = body === undefined ? undefined : typeof body === 'string' ? Buffer.from(body) : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
    const raw = rawHeaderList(headers);
    let hasLength = false;
    for (let i = 0; i < raw.length; i += 2) {
      const name = raw[i] as string;
      raw[i + 1] = checkValue(name, raw[i + 1] as string);
      if (equalsLower(name, 'content-length')) hasLength = true;
    }
    if (!hasLength && buf !== undefined && buf.length > 0) raw.push('content-length', String(buf.length));
    const h = responseHeaders(status, raw);
    const empty = buf === undefined || buf.length === 0 || this.method === 'HEAD';
    // A whole response in one go: HEADERS with END_STREAM when empty (a gRPC trailers-only answer).
    if (!this.stream.destroyed) this.stream.respond(h, { endStream: empty });
    this.headersSent = true;
    this.status = status;
    this.ended = true;
    if (!empty) {
      this.bytesSent += (buf as Buffer).length;
      if (!this.stream.destroyed) this.stream.end(buf);
    }
    this.stopUnreadBody();
  }

  closeAfterResponse(): void {
    // The connection carries other streams: nothing to close (graceful shutdown sends GOAWAY).
  }

  destroy(): void {
    this.unblock();
    // RST_STREAM for this request only; the connection goes on.
    this.resetByProxy(constants.NGHTTP2_INTERNAL_ERROR);
  }

  /** @internal The peer's window opened again. */
  drained(): void {
    this.unblock();
    this.events?.onDownstreamDrain();
  }

  /** @internal Stalled too long on the peer's window: reset the stream. */
  stalled(): void {
    this.blockedSince = 0;
    this.resetByProxy(constants.NGHTTP2_CANCEL);
    this.fail(ProxyError.downstream('ClientGone', 'the client did not open its flow-control window in time'));
  }

  /** @internal */
  bodyChunk(chunk: Buffer): void {
    const sink = this.sink;
    if (sink !== null) sink.onBodyChunk(chunk);
  }

  /** @internal */
  bodyEnded(): void {
    this.bodyOver();
    const sink = this.sink;
    if (sink === null) return;
    this.sink = null;
    sink.onBodyEnd(this.trailersIn);
  }

  /** @internal Trailers arrived (before the body's end). */
  trailers(raw: readonly string[]): void {
    const out: string[] = [];
    for (let i = 0; i + 1 < raw.length; i += 2) {
      const name = raw[i] as string;
      if (name.charCodeAt(0) !== 58) out.push(name, raw[i + 1] as string);
    }
    this.trailersIn = out;
  }

  /** @internal The whole request did not arrive within `requestTimeoutMs`. */
  requestTimedOut(): void {
    this.bodyDeadline = 0;
    const stream = this.stream;
    if (stream.readableEnded || stream.closed || stream.destroyed) return;
    const err = new ProxyError(`request not received within ${this.owner.requestTimeoutMs} ms`, { kind: 'InvalidHTTPRequest', source: 'downstream', status: 408 });
    if (this.ended) {
      // Answered already (the upstream did not wait for the body): only the stream is left open.
      this.resetByProxy(constants.NGHTTP2_CANCEL);
      return;
    }
    this.fail(err);
  }

  private bodyOver(): void {
    if (this.bodyDeadline === 0) return;
    this.bodyDeadline = 0;
    this.owner.bodyPending(this, false);
  }

  /** @internal The stream closed. */
  closed(): void {
    this.unblock();
    this.bodyOver();
    if (this.ended || this.proxyReset) return;
    this.owner.clientReset();
    this.fail(ProxyError.downstream('ClientGone', `the client reset the stream (code ${this.stream.rstCode ?? 0})`));
  }

  /** @internal `'wantTrailers'`: the last DATA went out, the trailers (or an empty end) follow. */
  sendTrailers(): void {
    const t = this.trailersOut;
    this.trailersOut = null;
    // With no fields node:http2 ends the stream with an empty DATA frame.
    try {
      const out = addH2Fields({}, t, false);
      for (const name of Object.keys(out)) {
        const v = out[name];
        if (typeof v === 'string') out[name] = checkValue(name, v);
      }
      this.stream.sendTrailers(out);
    } catch (err) {
      this.refused(err);
      return;
    }
    this.stopUnreadBody();
  }

  private fail(err: ProxyError): void {
    if (this.failed) return;
    this.failed = true;
    this.sink = null;
    this.events?.onDownstreamError(err);
  }

  private unblock(): void {
    if (this.blockedSince === 0) return;
    this.blockedSince = 0;
    this.owner.blocked(this, 0);
  }
}

/** `:status` and the fields as node:http2 takes them (see `addH2Fields`). */
function responseHeaders(status: number, raw: readonly string[]): OutgoingHttpHeaders {
  return addH2Fields({ ':status': status }, raw, false);
}

function isGrpc(v: OutgoingHttpHeaders[string]): boolean {
  return typeof v === 'string' && v.startsWith('application/grpc');
}

function sessionOf(stream: ServerHttp2Stream): Http2DownstreamSession {
  return (stream as TaggedStream)[kSession];
}

/** The request a stream carries, if one was started on it (the front routes 'close' to it). */
export function http2SessionOf(stream: ServerHttp2Stream): Http2DownstreamSession | undefined {
  return (stream as Partial<TaggedStream>)[kSession];
}

function onStreamData(this: ServerHttp2Stream, chunk: Buffer): void {
  sessionOf(this).bodyChunk(chunk);
}

function onStreamEnd(this: ServerHttp2Stream): void {
  sessionOf(this).bodyEnded();
}

function onStreamTrailers(this: ServerHttp2Stream, _headers: unknown, _flags: number, raw: readonly string[] | undefined): void {
  sessionOf(this).trailers(raw ?? []);
}

function onStreamDrain(this: ServerHttp2Stream): void {
  sessionOf(this).drained();
}

function onWantTrailers(this: ServerHttp2Stream): void {
  sessionOf(this).sendTrailers();
}

function flushHeadSoon(d: Http2DownstreamSession): void {
  d.flushNow();
}
