/**
 * `UpstreamSession` over HTTP/2: one stream of a pooled `node:http2` session (`H2Session`).
 * The request head is mapped to HTTP/2 (`h2-headers.ts`); a request body streams with
 * backpressure (`write` false → `onUpstreamDrain`) and ends with its trailers when it has any
 * (`waitForTrailers` + `sendTrailers`). The response is paused from its head until `readBody`
 * and whenever the downstream is full, so HTTP/2 flow control holds the upstream back. Response
 * trailers go to the sink's `onBodyEnd`. `abort` sends RST_STREAM(CANCEL), so a client that goes
 * away cancels the upstream stream (gRPC relies on it).
 *
 * Timeouts (`readTimeoutMs`, `writeTimeoutMs`) are deadlines checked by the session pool's
 * sweep, as for HTTP/1.1. No closures per request: stream events go to shared functions that
 * find the session through a symbol on the stream.
 */
import * as http2 from 'node:http2';
import { ProxyError } from '@pingora-ts/core';
import type { H2Reservation, H2Session, H2SessionPool, TimeoutTarget } from '@pingora-ts/pool';
import type { BodySink } from '../flow/body-sink';
import type { HttpPeer } from '../http-peer';
import type { RequestHeader } from '../request-header';
import { h2RequestHeaders, h2Trailers, withoutPseudo } from './h2-headers';
import type { UpstreamBodyFraming, UpstreamEvents, UpstreamSession } from './upstream-session';

const { NGHTTP2_CANCEL, NGHTTP2_NO_ERROR, NGHTTP2_REFUSED_STREAM } = http2.constants;

const kUpstream = Symbol('pingora-ts.http2Upstream');

interface TaggedStream extends http2.ClientHttp2Stream {
  [kUpstream]: Http2UpstreamSession;
}

export class Http2UpstreamSession implements UpstreamSession, TimeoutTarget {
  readonly reused: boolean;
  /** The session the stream is on. */
  private readonly h2: H2Session;
  /** The reserved slot, until the stream closes (or the reservation is given back). */
  private slot: H2Session | null;
  private stream: http2.ClientHttp2Stream | null = null;
  private events: UpstreamEvents | null = null;
  private sink: BodySink | null = null;
  /** Chunks that came before `readBody` (a read under way when the head paused the stream). */
  private held: Buffer[] | null = null;
  /** The response ended before `readBody`. */
  private endHeld = false;
  private responseTrailers: string[] | null = null;
  private requestTrailers: readonly string[] | null = null;
  private headSeen = false;
  private responseEnded = false;
  private requestDone = true;
  /** The body is held: before `readBody`, or the downstream is full. */
  private paused = false;
  /** Nothing more is reported (completed, failed or aborted). */
  private over = false;
  private streamError: Error | null = null;
  private timeoutMs = 0;
  /** The read timeout of this request: the peer's, or shorter (a `grpc-timeout`). */
  private readTimeoutMs = 0;
  private deadline = 0;

  constructor(
    private readonly pool: H2SessionPool,
    reservation: H2Reservation,
    private readonly peer: HttpPeer,
  ) {
    this.h2 = reservation.session;
    this.slot = reservation.session;
    this.reused = reservation.reused;
  }

  writeHead(request: RequestHeader, body: UpstreamBodyFraming, events: UpstreamEvents): void {
    const slot = this.slot;
    if (slot === null || this.over) throw new Error('the upstream session was abandoned');
    this.events = events;
    const endStream = body === 'none';
    this.requestDone = endStream;
    let stream: http2.ClientHttp2Stream;
    try {
      stream = slot.request(h2RequestHeaders(request, this.peer), { endStream, waitForTrailers: !endStream });
    } catch (err) {
      this.slot = null;
      this.over = true;
      const where = this.peer.address;
      const session = slot.session;
      if (slot.closing || session.closed || session.destroyed) {
        // The session closed (or received GOAWAY) since the slot was reserved: nothing was sent.
        throw new ProxyError(`HTTP/2 session to ${where} cannot open a stream: ${(err as Error).message}`, {
          kind: 'ConnectionClosed',
          source: 'upstream',
          retry: true,
          cause: err,
          context: where,
        });
      }
      // node:http2 refused the head itself (a field HTTP/2 does not allow).
      throw new ProxyError(`request head cannot be sent over HTTP/2 to ${where}: ${(err as Error).message}`, {
        kind: 'InvalidHTTPRequest',
        source: 'downstream',
        cause: err,
        context: where,
      });
    }
    (stream as TaggedStream)[kUpstream] = this;
    this.stream = stream;
    stream.on('response', onResponse);
    stream.on('data', onData);
    stream.on('trailers', onTrailers);
    stream.on('end', onEnd);
    stream.on('error', onError);
    stream.on('close', onClose);
    if (!endStream) {
      stream.on('drain', onDrain);
      stream.on('wantTrailers', onWantTrailers);
    }
    const o = this.peer.options;
    const deadline = request.readTimeoutMs;
    this.readTimeoutMs = deadline !== null && (o.readTimeoutMs === 0 || deadline < o.readTimeoutMs) ? deadline : o.readTimeoutMs;
    this.arm(endStream ? this.readTimeoutMs : o.writeTimeoutMs);
  }

  write(chunk: Buffer): boolean {
    const stream = this.stream;
    if (stream === null || this.over || this.requestDone) return true;
    this.touch();
    return stream.write(chunk);
  }

  end(trailers: readonly string[] | null): void {
    const stream = this.stream;
    if (stream === null || this.over || this.requestDone) return;
    this.requestDone = true;
    this.requestTrailers = trailers;
    stream.end();
    if (!this.headSeen) this.arm(this.readTimeoutMs);
  }

  readBody(sink: BodySink): void {
    this.sink = sink;
    const held = this.held;
    this.held = null;
    if (held !== null) for (const chunk of held) sink.onBodyChunk(chunk);
    if (this.endHeld) {
      this.endHeld = false;
      this.finishResponse();
      return;
    }
    this.resumeBody();
  }

  pauseBody(): void {
    if (this.paused || this.stream === null) return;
    this.paused = true;
    this.stream.pause();
    if (this.requestDone) this.arm(0); // no read timeout while the downstream is full
  }

  resumeBody(): void {
    if (!this.paused || this.stream === null || this.sink === null) return;
    this.paused = false;
    if (!this.responseEnded) this.arm(this.readTimeoutMs);
    this.stream.resume();
  }

  release(): void {
    const slot = this.slot;
    this.slot = null;
    this.over = true;
    if (slot !== null && this.stream === null) slot.cancel();
  }

  abort(): void {
    this.over = true;
    this.events = null;
    this.sink = null;
    this.held = null;
    this.disarm();
    const stream = this.stream;
    if (stream === null) {
      this.release();
      return;
    }
    if (!stream.closed && !stream.destroyed) stream.close(NGHTTP2_CANCEL);
  }

  /** @internal Called by the pool's sweep: fires the armed timeout once it is due. */
  checkTimeout(now: number): void {
    if (this.deadline === 0 || now < this.deadline) return;
    const ms = this.timeoutMs;
    this.disarm();
    const where = this.peer.address;
    const err =
      !this.headSeen && !this.requestDone
        ? new ProxyError(`writing the request to ${where} timed out`, { kind: 'WriteError', source: 'upstream', retry: false, context: where })
        : ProxyError.upstream('ReadTimedout', `upstream ${where} did not respond within ${ms} ms`, undefined, where);
    this.fail(err);
  }

  // Stream events (through the shared functions below)

  /** @internal */
  onResponse(headers: http2.IncomingHttpHeaders, raw: string[] | undefined): void {
    if (this.over || this.headSeen) return;
    this.headSeen = true;
    const stream = this.stream as http2.ClientHttp2Stream;
    this.paused = true;
    stream.pause(); // the body waits for `readBody`
    this.arm(0);
    const status = Number(headers[':status']);
    this.events?.onResponseHead(status, '', withoutPseudo(raw ?? flatten(headers)));
  }

  /** @internal */
  onData(chunk: Buffer): void {
    if (this.over) return;
    this.touch();
    const sink = this.sink;
    if (sink !== null) sink.onBodyChunk(chunk);
    else (this.held ??= []).push(chunk);
  }

  /** @internal */
  onTrailers(headers: http2.IncomingHttpHeaders, raw: string[] | undefined): void {
    this.responseTrailers = withoutPseudo(raw ?? flatten(headers));
  }

  /** @internal The response is complete. */
  onEnd(): void {
    if (this.over || !this.headSeen) return;
    const stream = this.stream as http2.ClientHttp2Stream;
    const code = stream.rstCode;
    if (code !== undefined && code !== NGHTTP2_NO_ERROR) {
      // node:http2 also ends the readable side of a stream that was reset or whose session
      // died (what had arrived stays readable): that is a truncated response, not its end.
      this.fail(this.closeError());
      return;
    }
    this.responseEnded = true;
    this.disarm();
    if (!this.requestDone) {
      // Answered before the whole request body was sent: the rest is not wanted.
      this.requestDone = true;
      if (!stream.closed) stream.close(NGHTTP2_NO_ERROR);
    }
    this.events?.onResponseComplete();
    if (this.sink !== null) this.finishResponse();
    else this.endHeld = true;
  }

  /** @internal */
  onWantTrailers(): void {
    const stream = this.stream as http2.ClientHttp2Stream;
    // No trailers: an empty DATA frame with END_STREAM (what node:http2 sends for `{}`).
    try {
      stream.sendTrailers(h2Trailers(this.requestTrailers));
    } catch (err) {
      // Trailers node:http2 refuses (a name it allows once, repeated oddly): this stream fails.
      this.fail(ProxyError.upstream('WriteError', `HTTP/2 refused the request trailers: ${err instanceof Error ? err.message : String(err)}`, err));
    }
  }

  /** @internal */
  onDrain(): void {
    if (this.over) return;
    this.touch();
    this.events?.onUpstreamDrain();
  }

  /** @internal */
  onStreamError(err: Error): void {
    this.streamError ??= err;
  }

  /** @internal The stream closed: a failure unless the response completed. */
  onStreamClose(): void {
    this.slot = null;
    this.disarm();
    if (this.over || this.responseEnded) return;
    this.fail(this.closeError());
  }

  private finishResponse(): void {
    const sink = this.sink;
    this.over = true;
    this.sink = null;
    this.events = null;
    sink?.onBodyEnd(this.responseTrailers);
  }

  private fail(err: ProxyError): void {
    if (this.over) return;
    const events = this.events;
    this.over = true;
    this.events = null;
    this.sink = null;
    const stream = this.stream;
    if (stream !== null && !stream.closed && !stream.destroyed) stream.close(NGHTTP2_CANCEL);
    events?.onUpstreamError(err);
  }

  /** What a stream that closed before its response completed means (RFC 9113 §8.7 for retries). */
  private closeError(): ProxyError {
    const stream = this.stream as http2.ClientHttp2Stream;
    const where = this.peer.address;
    const code = stream.rstCode ?? NGHTTP2_NO_ERROR;
    const cause = this.streamError ?? undefined;
    const goaway = this.h2.goawayLastStreamId;
    if (!this.headSeen) {
      // Not processed by the peer: safe to send again, whatever the method.
      if (code === NGHTTP2_REFUSED_STREAM || (stream.id !== undefined && stream.id > goaway)) {
        return new ProxyError(`upstream ${where} refused the stream (${code === NGHTTP2_REFUSED_STREAM ? 'REFUSED_STREAM' : 'GOAWAY'}) before processing it`, {
          kind: 'ConnectionClosed',
          source: 'upstream',
          retry: true,
          unprocessed: true,
          cause,
          context: where,
        });
      }
      return ProxyError.upstream('ConnectionClosed', `upstream ${where} closed the stream before responding (${codeName(code, cause)})`, cause, where);
    }
    return ProxyError.upstream('ReadError', `upstream ${where} reset the stream in the middle of the response (${codeName(code, cause)})`, cause, where);
  }

  private arm(ms: number): void {
    this.timeoutMs = ms;
    if (ms === 0) {
      this.disarm();
      return;
    }
    this.deadline = Date.now() + ms;
    this.pool.watch(this, ms);
  }

  private disarm(): void {
    if (this.deadline === 0 && this.timeoutMs === 0) return;
    this.timeoutMs = 0;
    this.deadline = 0;
    this.pool.unwatch(this);
  }

  /** The stream moved bytes: an armed timeout counts from now. */
  private touch(): void {
    if (this.timeoutMs !== 0) this.deadline = Date.now() + this.timeoutMs;
  }
}

function codeName(code: number, cause: Error | undefined): string {
  if (code !== NGHTTP2_NO_ERROR) return `HTTP/2 error code ${code}`;
  return cause === undefined ? 'no error code' : cause.message;
}

/** An incoming headers object as `[name, value, …]` (when node gave no raw list). */
function flatten(headers: http2.IncomingHttpHeaders): string[] {
  const out: string[] = [];
  for (const name of Object.keys(headers)) {
    const v = headers[name];
    if (v === undefined) continue;
    if (Array.isArray(v)) for (const one of v) out.push(name, one);
    else out.push(name, String(v));
  }
  return out;
}

function onResponse(this: http2.ClientHttp2Stream, headers: http2.IncomingHttpHeaders, _flags: number, raw?: string[]): void {
  (this as TaggedStream)[kUpstream].onResponse(headers, raw);
}

function onData(this: http2.ClientHttp2Stream, chunk: Buffer): void {
  (this as TaggedStream)[kUpstream].onData(chunk);
}

function onTrailers(this: http2.ClientHttp2Stream, headers: http2.IncomingHttpHeaders, _flags: number, raw?: string[]): void {
  (this as TaggedStream)[kUpstream].onTrailers(headers, raw);
}

function onEnd(this: http2.ClientHttp2Stream): void {
  (this as TaggedStream)[kUpstream].onEnd();
}

function onWantTrailers(this: http2.ClientHttp2Stream): void {
  (this as TaggedStream)[kUpstream].onWantTrailers();
}

function onDrain(this: http2.ClientHttp2Stream): void {
  (this as TaggedStream)[kUpstream].onDrain();
}

function onError(this: http2.ClientHttp2Stream, err: Error): void {
  (this as TaggedStream)[kUpstream].onStreamError(err);
}

function onClose(this: http2.ClientHttp2Stream): void {
  (this as TaggedStream)[kUpstream].onStreamClose();
}
