/**
 * `UpstreamSession` over HTTP/1.1: one request on a pool `HttpConnection`. The connection goes
 * back to the pool as soon as the response is complete (kept when reusable), even while the
 * response body still waits to be forwarded; on a failure or `abort` it is destroyed.
 */
import type { Socket } from 'node:net';
import type { ProxyError } from '@pingora-ts/core';
import type { ConnectionPool, HttpConnection, RawReader, ResponseHandler } from '@pingora-ts/pool';
import type { BodySink } from '../flow/body-sink';
import type { TunnelSide } from '../flow/tunnel';
import type { HttpPeer } from '../http-peer';
import type { RequestHeader } from '../request-header';
import { requestOptions } from './request-options';
import type { UpstreamBodyFraming, UpstreamConnector, UpstreamEvents, UpstreamSession } from './upstream-session';

export class Http1UpstreamSession implements UpstreamSession, ResponseHandler {
  readonly reused: boolean;
  private conn: HttpConnection | null;
  private events: UpstreamEvents | null = null;
  private sink: BodySink | null = null;
  /** Body chunks that arrived before `readBody` (only from a read already under way when the head paused it). */
  private held: Buffer[] | null = null;
  /** The response ended before `readBody`: its trailers (or null); `undefined` while it has not ended. */
  private endHeld: readonly string[] | null | undefined = undefined;

  constructor(
    private readonly pool: ConnectionPool,
    conn: HttpConnection,
    private readonly peer: HttpPeer,
  ) {
    this.conn = conn;
    this.reused = conn.reused;
  }

  writeHead(request: RequestHeader, body: UpstreamBodyFraming, events: UpstreamEvents, upgrade = false): void {
    const conn = this.conn;
    if (conn === null) throw new Error('the upstream session was abandoned');
    this.events = events;
    const options = requestOptions(this.peer, body, request.readTimeoutMs);
    conn.request(request.method, request.path, request.headers.raw, this, upgrade ? { ...options, upgrade: true } : options);
  }

  takeSocket(): TunnelSide {
    const conn = this.conn;
    if (conn === null) throw new Error('the upstream session was abandoned');
    this.conn = null;
    this.events = null;
    this.sink = null;
    // Not released: the pool counts the connection until its socket closes, and never reuses it.
    return new TakenConnection(conn);
  }

  write(chunk: Buffer): boolean {
    return this.conn === null ? true : this.conn.writeBody(chunk);
  }

  /** Request trailers go out with a chunked body's last chunk (a counted body cannot carry them). */
  end(trailers: readonly string[] | null): void {
    this.conn?.endBody(trailers);
  }

  readBody(sink: BodySink): void {
    this.sink = sink;
    const held = this.held;
    this.held = null;
    if (held !== null) for (const chunk of held) sink.onBodyChunk(chunk);
    const trailers = this.endHeld;
    if (trailers !== undefined) {
      this.endHeld = undefined;
      sink.onBodyEnd(trailers);
      return;
    }
    this.conn?.resume();
  }

  pauseBody(): void {
    this.conn?.pause();
  }

  resumeBody(): void {
    this.conn?.resume();
  }

  release(): void {
    const conn = this.conn;
    this.conn = null;
    if (conn !== null) this.pool.release(conn);
  }

  abort(): void {
    const conn = this.conn;
    this.conn = null;
    this.events = null;
    this.sink = null;
    if (conn === null) return;
    conn.abort();
    this.pool.release(conn);
  }

  // ResponseHandler: from the connection

  onResponseHead(status: number, reason: string, rawHeaders: string[]): void {
    this.conn?.pause(); // the body waits for `readBody`
    this.events?.onResponseHead(status, reason, rawHeaders);
  }

  onResponseData(chunk: Buffer): void {
    const sink = this.sink;
    if (sink !== null) sink.onBodyChunk(chunk);
    else (this.held ??= []).push(chunk);
  }

  onResponseEnd(rawTrailers: string[] | null): void {
    const conn = this.conn;
    this.conn = null;
    if (conn !== null) this.pool.release(conn);
    this.events?.onResponseComplete();
    const sink = this.sink;
    if (sink !== null) sink.onBodyEnd(rawTrailers);
    else this.endHeld = rawTrailers;
  }

  onResponseError(err: ProxyError): void {
    const conn = this.conn;
    this.conn = null;
    if (conn !== null) this.pool.release(conn);
    const events = this.events;
    this.events = null;
    this.sink = null;
    events?.onUpstreamError(err);
  }

  onRequestDrain(): void {
    this.events?.onUpstreamDrain();
  }
}

/** A pool connection's socket on its way into a tunnel. */
class TakenConnection implements TunnelSide {
  readonly socket: Socket;
  readonly head: Buffer | null;
  readonly ended: boolean;

  constructor(private readonly conn: HttpConnection) {
    const taken = conn.takeSocket();
    this.socket = taken.socket;
    this.head = taken.head;
    this.ended = taken.ended;
  }

  startReads(reader: RawReader): void {
    this.conn.readRaw(reader);
  }
}

/** HTTP/1.1 sessions on the pool's connections. */
export class Http1Connector implements UpstreamConnector {
  constructor(private readonly pool: ConnectionPool) {}

  reuse(peer: HttpPeer): UpstreamSession | null {
    const conn = this.pool.acquireIdle(peer);
    return conn === null ? null : new Http1UpstreamSession(this.pool, conn, peer);
  }

  async connect(peer: HttpPeer): Promise<UpstreamSession> {
    return new Http1UpstreamSession(this.pool, await this.pool.acquire(peer), peer);
  }
}
