/**
 * One HTTP/1.1 request on the llhttp path (`DownstreamSession`): its head as llhttp parsed it,
 * its body handed out on demand (kept, bounded by one socket read, until the proxy asks for
 * it), and its response written straight to the socket. The head is built once as one string and goes out
 * in the same write as the first body bytes (one syscall for a small response).
 */
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';
import type { ProxyError } from '@pingora-ts/core';
import { checkValue } from '../header-list';
import type { DownstreamAccess } from '../session';
import type { BodySink } from '../flow/body-sink';
import type { TunnelSide } from '../flow/tunnel';
import type { DownstreamEvents, DownstreamSession } from './downstream-session';
import type { LlhttpConnection } from './llhttp-connection';
import { headersObject } from './headers-object';
import { clientIpOf } from './client-ip';
import { rawHeaderList } from './node-http-session';
import { FRAMING_CHUNKED, FRAMING_NONE, lastChunk, responseHead, type ResponseFraming } from './response-head';
import { equalsLower } from '../equals-lower';

/** Body chunks up to this size go out in one string write with what precedes them. */
const SMALL_CHUNK = 2048;

export class LlhttpSession implements DownstreamSession, ResponseFraming {
  status = 0;
  readonly unframedBody = false;
  bytesSent = 0;
  headersSent = false;
  /** Decided with the head (see `responseHead`). */
  framing = FRAMING_NONE;
  keepAlive = false;
  /** The request message (head and body) was fully received. */
  complete = false;
  /** The response was ended. */
  ended = false;
  private headPending: string | null = null;
  private flushQueued = false;
  private events: DownstreamEvents | null = null;
  private sink: BodySink | null = null;
  /** Body chunks that arrived before the runner asked for them. */
  private queue: Buffer[] | null = null;
  private bodyPaused = false;
  private discarding = false;
  private closeRequested = false;
  private continueSent = false;
  private failed = false;
  private headerObject: IncomingHttpHeaders | null = null;
  /** The request body's trailers, kept until the sink takes the end. */
  private trailers: string[] | null = null;

  constructor(
    private readonly conn: LlhttpConnection,
    readonly method: string,
    readonly target: string,
    readonly rawHeaders: string[],
    private readonly versionMinor: number,
    private readonly keepAliveRequest: boolean,
    private readonly expectContinue: boolean,
  ) {}

  get httpVersion(): string {
    return this.versionMinor === 1 ? '1.1' : '1.0';
  }

  get headers(): IncomingHttpHeaders {
    return (this.headerObject ??= headersObject(this.rawHeaders));
  }

  get access(): DownstreamAccess {
    throw new TypeError('session.downstream (node:http request and response) exists only with the HttpProxy option downstream: "node:http"');
  }

  get gone(): boolean {
    return this.conn.socket.destroyed;
  }

  get scheme(): 'http' | 'https' {
    return this.conn.tls ? 'https' : 'http';
  }

  clientIp(): string {
    return clientIpOf(this.conn.socket.remoteAddress);
  }

  clientPort(): number {
    return this.conn.socket.remotePort ?? 0;
  }

  setEvents(events: DownstreamEvents): void {
    this.events = events;
  }

  readBody(sink: BodySink): void {
    this.sink = sink;
    this.discarding = false;
    if (this.expectContinue && !this.continueSent && !this.complete && !this.headersSent) {
      this.continueSent = true;
      this.conn.socket.write('HTTP/1.1 100 Continue\r\n\r\n', 'latin1');
    }
    const queued = this.queue;
    this.queue = null;
    if (queued !== null) {
      for (let i = 0; i < queued.length && this.sink === sink; i++) sink.onBodyChunk(queued[i] as Buffer);
    }
    if (this.sink !== sink) return;
    if (this.complete) {
      this.sink = null;
      sink.onBodyEnd(this.trailers);
      return;
    }
    this.conn.holdBody(this, this.bodyPaused);
  }

  pauseBody(): void {
    this.bodyPaused = true;
    this.conn.holdBody(this, true);
  }

  resumeBody(): void {
    this.bodyPaused = false;
    this.conn.holdBody(this, this.sink === null && !this.discarding);
  }

  stopBody(discard: boolean): void {
    this.sink = null;
    if (discard) {
      // The response does not need the rest: read and drop it so the connection can go on.
      this.discarding = true;
      this.queue = null;
      this.conn.holdBody(this, false);
    } else {
      // Kept for a retry (nothing was taken yet), or left unread before the connection closes.
      this.conn.holdBody(this, true);
    }
  }

  writeHead(status: number, reason: string, rawHeaders: string[]): void {
    if (this.headersSent) throw new Error('response headers were already sent');
    const listener = this.conn.listener;
    const wantKeepAlive =
      this.keepAliveRequest &&
      !this.closeRequested &&
      !this.conn.closeAfterCurrent &&
      !listener.closing &&
      // a client still waiting for `100 Continue` may never send the body: do not wait for it
      !(this.expectContinue && !this.continueSent && !this.complete);
    // A 2xx to CONNECT starts a tunnel: no body framing (RFC 9110 §9.3.6), like a 101's.
    const noBody = this.method === 'HEAD' || (this.method === 'CONNECT' && status >= 200 && status < 300);
    this.headPending = responseHead(status, reason, rawHeaders, noBody, this.versionMinor === 1, wantKeepAlive, listener.keepAliveLines, this);
    this.headersSent = true;
    this.status = status;
  }

  write(chunk: Buffer): boolean {
    const socket = this.conn.socket;
    if (this.ended || socket.destroyed) return true;
    if (this.framing === FRAMING_NONE) return true; // HEAD, 204, 304: no body goes out
    const n = chunk.length;
    this.bytesSent += n;
    if (n === 0) return true;
    let prefix = this.headPending;
    this.headPending = null;
    if (this.framing === FRAMING_CHUNKED) {
      const size = n.toString(16) + '\r\n';
      prefix = prefix === null ? size : prefix + size;
      if (n <= SMALL_CHUNK) return socket.write(prefix + chunk.toString('latin1') + '\r\n', 'latin1');
      socket.cork();
      socket.write(prefix, 'latin1');
      socket.write(chunk);
      const ok = socket.write('\r\n', 'latin1');
      socket.uncork();
      return ok;
    }
    if (prefix === null) return socket.write(chunk);
    if (n <= SMALL_CHUNK) return socket.write(prefix + chunk.toString('latin1'), 'latin1');
    socket.cork();
    socket.write(prefix, 'latin1');
    const ok = socket.write(chunk);
    socket.uncork();
    return ok;
  }

  flushHead(): void {
    if (this.headPending === null || this.flushQueued) return;
    this.flushQueued = true;
    process.nextTick(flushHeadSoon, this);
  }

  end(trailers: readonly string[] | null): void {
    if (this.ended) return;
    this.ended = true;
    const socket = this.conn.socket;
    let tail = this.framing === FRAMING_CHUNKED ? lastChunk(trailers) : '';
    if (this.headPending !== null) {
      tail = this.headPending + tail;
      this.headPending = null;
    }
    if (tail !== '' && !socket.destroyed) socket.write(tail, 'latin1');
    this.conn.responseEnded(this);
  }

  respond(status: number, headers: OutgoingHttpHeaders | readonly string[] | undefined, body: string | Uint8Array | undefined): void {
    if (this.headersSent) throw new Error('response headers were already sent');
    const buf = body === undefined ? undefined : typeof body === 'string' ? Buffer.from(body) : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
    const raw = rawHeaderList(headers);
    let hasLength = false;
    let hasDate = false;
    for (let i = 0; i < raw.length; i += 2) {
      const name = raw[i] as string;
      raw[i + 1] = checkValue(name, raw[i + 1] as string);
      if (equalsLower(name, 'content-length')) hasLength = true;
      else if (equalsLower(name, 'date')) hasDate = true;
    }
    if (!hasLength) raw.push('Content-Length', String(buf === undefined ? 0 : buf.length));
    if (!hasDate) raw.push('Date', this.conn.listener.date());
    this.writeHead(status, '', raw);
    if (buf !== undefined && buf.length > 0) this.write(buf);
    this.end(null);
  }

  closeAfterResponse(): void {
    this.closeRequested = true;
  }

  takeSocket(): TunnelSide {
    if (this.ended) throw new Error('the response already ended');
    const head = this.headPending;
    this.headPending = null;
    if (head !== null && !this.conn.socket.destroyed) this.conn.socket.write(head, 'latin1');
    const side = this.conn.takeSocket(this);
    this.ended = true;
    this.sink = null;
    return side;
  }

  destroy(): void {
    this.conn.socket.destroy();
  }

  /** @internal A body chunk from the parser. */
  bodyChunk(chunk: Buffer): void {
    const sink = this.sink;
    if (sink !== null) {
      sink.onBodyChunk(chunk);
      return;
    }
    if (this.discarding || this.ended) return;
    (this.queue ??= []).push(chunk);
    this.conn.holdBody(this, true);
  }

  /** @internal The request message is complete, with the trailers of a chunked body (or null). */
  bodyComplete(trailers: string[] | null): void {
    this.complete = true;
    this.trailers = trailers;
    const sink = this.sink;
    if (sink !== null) {
      this.sink = null;
      sink.onBodyEnd(trailers);
    }
  }

  /** @internal The request cannot go on (client gone, malformed or slow body). Told once. */
  fail(err: ProxyError): void {
    if (this.failed || this.ended) return;
    this.failed = true;
    this.sink = null;
    this.events?.onDownstreamError(err);
  }

  /** @internal */
  drained(): void {
    this.events?.onDownstreamDrain();
  }

  /** @internal Sends a head that no body bytes carried out (see `flushHead`). */
  flushNow(): void {
    this.flushQueued = false;
    const head = this.headPending;
    if (head === null || this.conn.socket.destroyed) return;
    this.headPending = null;
    this.conn.socket.write(head, 'latin1');
  }
}

function flushHeadSoon(d: LlhttpSession): void {
  d.flushNow();
}

