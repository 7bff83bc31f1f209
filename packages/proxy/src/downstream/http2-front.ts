/**
 * The HTTP/2 side of one downstream listener: a node:http2 server that never listens itself;
 * the listener hands it connections (a TLS socket whose ALPN chose `h2`, or a cleartext one
 * that began with the h2c preface) and every stream becomes an `Http2DownstreamSession` for
 * the proxy's request handler.
 *
 * Defences (see docs/http2.md): node:http2's own limits (header list size, session memory,
 * outstanding pings, settings entries, invalid frames, rejected streams), plus counters node
 * has none for: client resets per second (rapid reset), PING and SETTINGS frames per second,
 * each answered with GOAWAY(ENHANCE_YOUR_CALM) past its bound; and a stall timeout that resets
 * a stream whose response waits on a window the client never opens.
 */
import * as http2 from 'node:http2';
import type { Socket } from 'node:net';
import type { Logger } from '@pingora-ts/core';
import type { RequestHandler } from './downstream-session';
import { Http2DownstreamSession, http2SessionOf, type Http2StreamOwner } from './http2-session';

const { NGHTTP2_ENHANCE_YOUR_CALM } = http2.constants;

/** HTTP/2 settings and limits (the HttpProxy option `http2`). */
export interface Http2Options {
  /** SETTINGS_MAX_CONCURRENT_STREAMS. Default 128. */
  maxConcurrentStreams?: number;
  /** SETTINGS_INITIAL_WINDOW_SIZE: what a client may send on a stream before the proxy reads it. Default 65535. */
  initialWindowSize?: number;
  /** SETTINGS_MAX_HEADER_LIST_SIZE (decoded bytes); larger heads are refused. Default 65536. */
  maxHeaderListSize?: number;
  /** A response waiting this long on a flow-control window the client does not open is reset. Default 60000. */
  stallTimeoutMs?: number;
  /** Client stream resets a connection may make in one second before GOAWAY(ENHANCE_YOUR_CALM). Default 200. */
  maxResetsPerSecond?: number;
  /** PING plus SETTINGS frames a connection may send in one second before GOAWAY(ENHANCE_YOUR_CALM). Default 100. */
  maxControlFramesPerSecond?: number;
}

export type Http2Settings = Required<Http2Options>;

export const HTTP2_DEFAULTS: Http2Settings = {
  maxConcurrentStreams: 128,
  initialWindowSize: 65_535,
  maxHeaderListSize: 65_536,
  stallTimeoutMs: 60_000,
  maxResetsPerSecond: 200,
  maxControlFramesPerSecond: 100,
};

const kConn = Symbol('pingora-ts.http2Connection');

/** One HTTP/2 connection: its counters, and what its streams need once `stream.session` is gone. */
class Http2Connection implements Http2StreamOwner {
  readonly tls: boolean;
  readonly remoteAddress: string | undefined;
  readonly remotePort: number | undefined;
  /** Streams open (not yet closed). */
  streams = 0;
  /** Start of the current one-second window, and the counts in it. */
  private windowAt = Date.now();
  private resets = 0;
  private control = 0;

  constructor(
    readonly front: Http2Front,
    readonly session: http2.ServerHttp2Session,
  ) {
    const socket = session.socket as Socket & { encrypted?: boolean };
    this.tls = socket.encrypted === true;
    this.remoteAddress = socket.remoteAddress;
    this.remotePort = socket.remotePort;
  }

  blocked(stream: Http2DownstreamSession, since: number): void {
    this.front.blocked(stream, since);
  }

  bodyPending(stream: Http2DownstreamSession, pending: boolean): void {
    this.front.bodyPending(stream, pending);
  }

  get requestTimeoutMs(): number {
    return this.front.requestTimeoutMs;
  }

  clientReset(): void {
    this.roll();
    if (++this.resets > this.front.settings.maxResetsPerSecond) this.front.calm(this.session, 'rapid stream resets', this.resets);
  }

  controlFrame(): void {
    this.roll();
    if (++this.control > this.front.settings.maxControlFramesPerSecond) this.front.calm(this.session, 'PING/SETTINGS flood', this.control);
  }

  private roll(): void {
    const now = Date.now();
    if (now - this.windowAt >= 1000) {
      this.windowAt = now;
      this.resets = 0;
      this.control = 0;
    }
  }
}

interface Tagged {
  [kConn]: Http2Connection;
}

/** Told when a connection of this front closed (the listener's drain accounting). */
export interface Http2FrontOwner {
  h2Closed(): void;
}

export class Http2Front {
  readonly settings: Http2Settings;
  private readonly server: http2.Http2Server;
  private readonly sessions = new Set<http2.ServerHttp2Session>();
  private readonly blockedSessions = new Set<Http2DownstreamSession>();
  /** Requests whose body is still coming, with a deadline (`requestTimeoutMs`). */
  private readonly bodySessions = new Set<Http2DownstreamSession>();
  private sweepTimer: NodeJS.Timeout | null = null;
  private owner: Http2FrontOwner | null = null;
  private closing = false;

  /**
   * @param idleTimeoutMs a connection without streams for this long is closed
   * @param requestTimeoutMs longest time to receive a whole request, body included (0: none)
   */
  constructor(
    options: Http2Options,
    idleTimeoutMs: number,
    readonly requestTimeoutMs: number,
    private readonly onRequest: RequestHandler,
    private readonly logger: Logger,
    private readonly service: string,
  ) {
    const s: Http2Settings = { ...HTTP2_DEFAULTS, ...options };
    this.settings = s;
    this.server = http2.createServer({
      settings: {
        maxConcurrentStreams: s.maxConcurrentStreams,
        initialWindowSize: s.initialWindowSize,
        maxHeaderListSize: s.maxHeaderListSize,
        enablePush: false,
        // Extended CONNECT (RFC 8441) is not offered: a :protocol pseudo-header is malformed (RST_STREAM PROTOCOL_ERROR).
        enableConnectProtocol: false,
      },
      maxHeaderListPairs: 256,
      // MiB of frames, headers and queued data per connection before new streams are refused.
      maxSessionMemory: 16,
      maxOutstandingPings: 10,
      maxSettings: 32,
      maxSessionInvalidFrames: 100,
      maxSessionRejectedStreams: 100,
    });
    this.server.setTimeout(idleTimeoutMs);
    this.server.on('session', this.onSession);
    this.server.on('stream', this.onStream);
    this.server.on('timeout', onSessionIdle);
  }

  /** Open HTTP/2 connections. */
  get connections(): number {
    return this.sessions.size;
  }

  /** Starts the stall sweep; `owner` hears of closed connections. */
  start(owner: Http2FrontOwner): void {
    this.owner = owner;
    const shortest = Math.min(this.settings.stallTimeoutMs, this.requestTimeoutMs > 0 ? this.requestTimeoutMs : Infinity);
    const tick = Math.max(5, Math.min(1000, Math.floor(shortest / 4)));
    this.sweepTimer = setInterval(this.sweep, tick);
    this.sweepTimer.unref();
  }

  /**
   * Serves HTTP/2 on `socket`. `preRead`: bytes already read from it (the h2c preface and
   * whatever came with it), given back to the socket for node:http2 to take first.
   */
  take(socket: Socket, preRead: Buffer | null): void {
    if (this.closing) {
      socket.destroy();
      return;
    }
    if (preRead !== null) {
      // Out of flowing mode first, or unshift would emit the bytes as 'data' to nobody.
      socket.pause();
      socket.unshift(preRead);
      this.server.emit('connection', socket);
      // node:http2 reads what was unshifted on the next tick (lib/internal/http2/core.js,
      // `socket.readableLength` → `handle.receive`); reading resumes after that.
      process.nextTick(resumeSocket, socket);
      return;
    }
    this.server.emit('connection', socket);
  }

  /** Graceful: GOAWAY to every connection, streams in flight finish. Not graceful: destroy all. */
  shutdown(graceful: boolean): void {
    this.closing = true;
    for (const session of this.sessions) {
      if (graceful) session.close();
      else session.destroy();
    }
  }

  /** Closes connections without a stream open (after the listener's idle grace). */
  closeIdle(): void {
    for (const session of this.sessions) if (connOf(session).streams === 0) session.close();
  }

  destroyAll(): void {
    for (const session of this.sessions) session.destroy();
  }

  stop(): void {
    if (this.sweepTimer !== null) clearInterval(this.sweepTimer);
    this.sweepTimer = null;
  }

  /** @internal */
  blocked(session: Http2DownstreamSession, since: number): void {
    if (since === 0) this.blockedSessions.delete(session);
    else this.blockedSessions.add(session);
  }

  private readonly onSession = (session: http2.ServerHttp2Session): void => {
    (session as unknown as Tagged)[kConn] = new Http2Connection(this, session);
    this.sessions.add(session);
    if (this.closing) session.close();
    session.on('close', onSessionClose);
    session.on('error', onSessionError);
    // On the session, not in onStream: a session destroyed while reading the bytes that opened a
    // stream (a flood of invalid frames after HEADERS) no longer passes 'stream' to the server,
    // and node 24 then emits the stream's error with no listener, which stopped the process.
    session.on('stream', onAnyStream);
    session.on('frameError', onFrameError);
    session.on('ping', onControlFrame);
    session.on('remoteSettings', onControlFrame);
  };

  private readonly onStream = (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders, _flags: number, raw: string[] | undefined): void => {
    const session = stream.session as http2.ServerHttp2Session | undefined;
    if (session === undefined) return;
    const conn = connOf(session);
    if (stream.destroyed) {
      // Reset by the client in the same read as its HEADERS: counted, never started.
      conn.clientReset();
      return;
    }
    conn.streams++;
    (stream as unknown as Tagged)[kConn] = conn;
    stream.on('close', onStreamGone);
    const list = raw ?? flatten(headers);
    if (methodOf(list) === 'CONNECT') {
      // No tunnels over HTTP/2 (a stream has no socket to give up): 405, HTTP/1.1's default
      // answer too. Extended CONNECT never gets here (not offered).
      stream.respond({ ':status': 405 }, { endStream: true });
      return;
    }
    if (authorityConflict(list)) {
      // RFC 9113 §8.3.1: a Host naming another authority than :authority is malformed.
      stream.close(http2.constants.NGHTTP2_PROTOCOL_ERROR);
      return;
    }
    this.onRequest(new Http2DownstreamSession(stream, list, conn));
  };

  /** @internal A connection closed. */
  closed(session: http2.ServerHttp2Session): void {
    if (this.sessions.delete(session)) this.owner?.h2Closed();
  }

  /** @internal The idle timeout: a connection without open streams is closed. */
  idle(session: http2.ServerHttp2Session): void {
    if (connOf(session).streams === 0) session.close();
  }

  /** @internal */
  log(session: http2.ServerHttp2Session, err: Error, what: string): void {
    this.logger.debug({ service: this.service, err: err.message, client: session.socket?.remoteAddress }, what);
  }

  /** GOAWAY(ENHANCE_YOUR_CALM) and the connection is dropped; logged once. */
  /** @internal */
  calm(session: http2.ServerHttp2Session, why: string, count: number): void {
    if (session.destroyed) return;
    this.logger.warn({ service: this.service, reason: why, count, client: session.socket?.remoteAddress }, 'HTTP/2 connection refused: abuse');
    // null, not undefined: node:http2's destroy(error = NO_ERROR, code) would take its default and send code 0.
    session.destroy(null as unknown as Error, NGHTTP2_ENHANCE_YOUR_CALM);
  }

  /** @internal A request's body started (`pending`) or stopped coming. */
  bodyPending(session: Http2DownstreamSession, pending: boolean): void {
    if (pending) this.bodySessions.add(session);
    else this.bodySessions.delete(session);
  }

  private readonly sweep = (): void => {
    if (this.bodySessions.size > 0) {
      const now = Date.now();
      for (const s of this.bodySessions) {
        if (s.bodyDeadline !== 0 && s.bodyDeadline <= now) {
          this.bodySessions.delete(s);
          s.requestTimedOut();
        }
      }
    }
    if (this.blockedSessions.size === 0) return;
    const limit = Date.now() - this.settings.stallTimeoutMs;
    for (const s of this.blockedSessions) {
      if (s.blockedSince !== 0 && s.blockedSince <= limit) {
        this.blockedSessions.delete(s);
        s.stalled();
      }
    }
  };
}

function resumeSocket(socket: Socket): void {
  if (!socket.destroyed) socket.resume();
}

function connOf(session: http2.ServerHttp2Session): Http2Connection {
  return (session as unknown as Tagged)[kConn];
}

function onSessionClose(this: http2.ServerHttp2Session): void {
  connOf(this).front.closed(this);
}

function onSessionError(this: http2.ServerHttp2Session, err: Error): void {
  connOf(this).front.log(this, err, 'HTTP/2 connection error');
}

function onFrameError(this: http2.ServerHttp2Session, type: number, code: number, id: number): void {
  connOf(this).front.log(this, new Error(`frame ${type} on stream ${id} failed (code ${code})`), 'HTTP/2 frame error');
}

function onControlFrame(this: http2.ServerHttp2Session): void {
  connOf(this).controlFrame();
}

function onSessionIdle(session: http2.ServerHttp2Session): void {
  connOf(session).front.idle(session);
}

function onStreamGone(this: http2.ServerHttp2Stream): void {
  (this as unknown as Tagged)[kConn].streams--;
  http2SessionOf(this)?.closed();
}

function onAnyStream(stream: http2.ServerHttp2Stream): void {
  stream.on('error', onStreamError);
}

function onStreamError(): void {
  // A stream error (a reset, a refused frame): 'close' follows and ends its request.
}

function methodOf(raw: readonly string[]): string {
  for (let i = 0; i + 1 < raw.length; i += 2) if (raw[i] === ':method') return raw[i + 1] as string;
  return '';
}

function flatten(headers: http2.IncomingHttpHeaders): string[] {
  const out: string[] = [];
  for (const name of Object.keys(headers)) {
    const v = headers[name];
    if (Array.isArray(v)) for (const one of v) out.push(name, one);
    else if (v !== undefined) out.push(name, String(v));
  }
  return out;
}

/** `:authority` and `Host` both present and different (case aside). */
function authorityConflict(raw: readonly string[]): boolean {
  let authority: string | null = null;
  let host: string | null = null;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i] as string;
    if (name === ':authority') authority = raw[i + 1] as string;
    else if (name === 'host') host = raw[i + 1] as string;
  }
  return authority !== null && host !== null && authority.toLowerCase() !== host.toLowerCase();
}
