/**
 * The node:http path's `DownstreamSession` for a request node:http hands over with its raw
 * socket (its `'upgrade'` and `'connect'` events: an `Upgrade` request, a `CONNECT`). The
 * response is written to the socket directly, as the llhttp path does; a `101` (or a `2xx` to
 * `CONNECT`) gives the socket to a tunnel (`takeSocket`). node:http no longer parses this
 * connection, so any other answer closes it after the response (the llhttp path keeps it).
 * node:http leaves a declared body in the raw bytes too: a `Content-Length` body is counted out
 * of them here (the listener refuses a chunked one on this path).
 */
import type { IncomingHttpHeaders, IncomingMessage, OutgoingHttpHeaders } from 'node:http';
import type { Socket } from 'node:net';
import { ProxyError } from '@pingora-ts/core';
import type { RawReader } from '@pingora-ts/pool';
import type { BodySink } from '../flow/body-sink';
import type { TunnelSide } from '../flow/tunnel';
import { checkValue } from '../header-list';
import type { DownstreamAccess } from '../session';
import { equalsLower } from '../equals-lower';
import { clientIpOf } from './client-ip';
import type { DownstreamEvents, DownstreamSession } from './downstream-session';
import { headersObject } from './headers-object';
import { rawHeaderList } from './node-http-session';
import { originFormOf } from './request-target';
import { FRAMING_CHUNKED, FRAMING_NONE, lastChunk, responseHead, type ResponseFraming } from './response-head';

const kSession = Symbol('pingora-ts.upgradeSession');
const EMPTY = Buffer.alloc(0);
const kReader = Symbol('pingora-ts.tunnelReader');

interface TaggedSocket extends Socket {
  [kSession]?: NodeUpgradeSession;
  [kReader]?: RawReader;
}

export class NodeUpgradeSession implements DownstreamSession, ResponseFraming {
  status = 0;
  readonly unframedBody = false;
  bytesSent = 0;
  headersSent = false;
  framing = FRAMING_NONE;
  keepAlive = false;
  private ended = false;
  private headPending: string | null = null;
  private events: DownstreamEvents | null = null;
  private sink: BodySink | null = null;
  private readonly origin: { target: string; rawHeaders: string[] } | null;
  private headerObject: IncomingHttpHeaders | null = null;
  /** Request body bytes still to read out of the raw bytes (its `Content-Length`). */
  private bodyLeft: number;

  /** `head`: the bytes node:http read past the request head (its body, then the tunnel's first bytes). */
  constructor(
    readonly req: IncomingMessage,
    readonly socket: Socket,
    private head: Buffer,
  ) {
    const length = req.headers['content-length'];
    this.bodyLeft = length === undefined ? 0 : Number(length);
    const url = req.url as string;
    this.origin = url.charCodeAt(0) === 47 /* / */ || req.method === 'CONNECT' ? null : originFormOf(url, req.rawHeaders);
    (socket as TaggedSocket)[kSession] = this;
    socket.on('close', onSocketClose);
    socket.on('drain', onSocketDrain);
    socket.on('error', ignoreError); // 'close' follows and tells the runner
  }

  get method(): string {
    return this.req.method as string;
  }

  get target(): string {
    return this.origin === null ? (this.req.url as string) : this.origin.target;
  }

  get rawHeaders(): string[] {
    return this.origin === null ? this.req.rawHeaders : this.origin.rawHeaders;
  }

  get httpVersion(): string {
    return this.req.httpVersion;
  }

  get headers(): IncomingHttpHeaders {
    return (this.headerObject ??= headersObject(this.rawHeaders));
  }

  get access(): DownstreamAccess {
    throw new TypeError('session.downstream: an Upgrade or CONNECT request has no node:http response (its socket is written directly)');
  }

  get scheme(): 'http' | 'https' {
    return (this.socket as { encrypted?: boolean }).encrypted === true ? 'https' : 'http';
  }

  get gone(): boolean {
    return this.socket.destroyed;
  }

  clientIp(): string {
    return clientIpOf(this.socket.remoteAddress);
  }

  clientPort(): number {
    return this.socket.remotePort ?? 0;
  }

  setEvents(events: DownstreamEvents): void {
    this.events = events;
  }

  readBody(sink: BodySink): void {
    this.sink = sink;
    const head = this.head;
    this.head = EMPTY;
    this.takeBody(head);
    if (this.sink !== null) {
      this.socket.on('data', this.onData);
      this.socket.resume();
    }
  }

  pauseBody(): void {
    this.socket.pause();
  }

  resumeBody(): void {
    if (this.sink !== null) this.socket.resume();
  }

  stopBody(_discard: boolean): void {
    this.sink = null;
    this.socket.removeListener('data', this.onData);
    this.socket.pause();
  }

  writeHead(status: number, reason: string, rawHeaders: string[]): void {
    if (this.headersSent) throw new Error('response headers were already sent');
    const noBody = this.method === 'HEAD' || (this.method === 'CONNECT' && status >= 200 && status < 300);
    // Never kept alive: node:http parses nothing more on this socket.
    this.headPending = responseHead(status, reason, rawHeaders, noBody, this.req.httpVersionMinor === 1, false, '', this);
    this.headersSent = true;
    this.status = status;
  }

  write(chunk: Buffer): boolean {
    const socket = this.socket;
    if (this.ended || socket.destroyed || this.framing === FRAMING_NONE) return true;
    const n = chunk.length;
    this.bytesSent += n;
    if (n === 0) return true;
    socket.cork();
    this.flushPending();
    if (this.framing === FRAMING_CHUNKED) socket.write(n.toString(16) + '\r\n', 'latin1');
    let ok = socket.write(chunk);
    if (this.framing === FRAMING_CHUNKED) ok = socket.write('\r\n', 'latin1');
    socket.uncork();
    return ok;
  }

  flushHead(): void {
    if (this.headPending !== null) process.nextTick(flushSoon, this);
  }

  end(trailers: readonly string[] | null): void {
    if (this.ended) return;
    this.ended = true;
    const socket = this.socket;
    if (socket.destroyed) return;
    this.flushPending();
    if (this.framing === FRAMING_CHUNKED) socket.write(lastChunk(trailers), 'latin1');
    socket.end();
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
    if (!hasLength) raw.push('Content-Length', String(buf === undefined ? 0 : buf.length));
    raw.push('Date', new Date().toUTCString());
    this.writeHead(status, '', raw);
    if (buf !== undefined && buf.length > 0) this.write(buf);
    this.end(null);
  }

  closeAfterResponse(): void {
    // Always: node:http parses nothing more on this socket.
  }

  destroy(): void {
    this.socket.destroy();
  }

  takeSocket(): TunnelSide {
    if (this.ended) throw new Error('the response already ended');
    this.ended = true;
    this.sink = null;
    this.flushPending();
    const socket = this.socket as TaggedSocket;
    return {
      socket,
      head: this.head.length > 0 ? this.head : null,
      ended: socket.readableEnded,
      startReads(reader: RawReader): void {
        socket[kReader] = reader;
        socket.on('data', onTunnelData);
      },
    };
  }

  /** @internal Sends a head that no body bytes carried out. */
  flushPending(): void {
    const head = this.headPending;
    if (head === null || this.socket.destroyed) return;
    this.headPending = null;
    this.socket.write(head, 'latin1');
  }

  /** @internal The socket closed: before the response ended (or the tunnel took it), the client went away. */
  closed(): void {
    if (this.ended) return;
    this.ended = true;
    this.events?.onDownstreamError(ProxyError.downstream('ClientGone', 'the client closed the connection'));
  }

  /** @internal */
  drained(): void {
    if (!this.ended) this.events?.onDownstreamDrain();
  }

  private readonly onData = (chunk: Buffer): void => {
    this.takeBody(chunk);
  };

  /** Hands the body's part of `bytes` to the sink; what follows it is kept for the tunnel. */
  private takeBody(bytes: Buffer): void {
    const sink = this.sink;
    if (sink === null) return;
    const n = Math.min(this.bodyLeft, bytes.length);
    this.bodyLeft -= n;
    if (n > 0) sink.onBodyChunk(n === bytes.length ? bytes : bytes.subarray(0, n));
    if (this.bodyLeft > 0 || this.sink !== sink) return;
    if (n < bytes.length) this.head = this.head.length === 0 ? bytes.subarray(n) : Buffer.concat([this.head, bytes.subarray(n)]);
    this.stopBody(false);
    sink.onBodyEnd(null);
  }
}

function onTunnelData(this: TaggedSocket, chunk: Buffer): void {
  (this[kReader] as RawReader).onRawData(chunk);
}

function onSocketClose(this: TaggedSocket): void {
  this[kSession]?.closed();
}

function onSocketDrain(this: TaggedSocket): void {
  this[kSession]?.drained();
}

function flushSoon(s: NodeUpgradeSession): void {
  s.flushPending();
}

function ignoreError(): void {}

