/**
 * One upstream HTTP/1.1 connection: writes a request (head, then a body with Content-Length
 * or chunked framing), reads the response with `ResponseParser`, and hands it to a
 * `ResponseHandler`. Flow control is explicit: `pause()`, `resume()`, `abort()`.
 *
 * Connections are made and owned by a `ConnectionPool`: `pool.acquire(peer)` hands one out,
 * `pool.release(conn)` takes it back once the response ended (it is kept only if reusable).
 *
 * After a `101 Switching Protocols` (to a request sent with `upgrade: true`) the socket leaves
 * HTTP: `takeSocket` hands it over with the bytes read past the 101 head, and from then on
 * passes every read to a `RawReader`. Such a connection is never reused; the pool counts it
 * until its socket closes.
 */
import type { Socket } from 'node:net';
import { ProxyError } from '@pingora-ts/core';
import { ResponseParser, type ResponseParserSink } from './response-parser';
import { OWN_READ_MIN, sharedReads, type SharedReader } from '@pingora-ts/core/internal';
import type { TimeoutTarget } from './timeout-sweep';

/** Reacts to one response (undici's dispatch-handler split: the connection moves bytes, this reacts). */
export interface ResponseHandler {
  /** The final response head. The handler may `pause()` the connection until it is ready for the body. */
  onResponseHead(status: number, reason: string, rawHeaders: string[]): void;
  /** One piece of the body, **not the whole body**. Call `pause()` to stop the flow, `resume()` later. */
  onResponseData(chunk: Buffer): void;
  /** The response is complete; the handler should now `pool.release(conn)`. */
  onResponseEnd(rawTrailers: string[] | null): void;
  /** The request failed; the connection is already destroyed. Called at most once, never after `onResponseEnd`. */
  onResponseError(err: ProxyError): void;
  /** The socket drained: the request body may be written again after `writeBody` returned `false`. */
  onRequestDrain(): void;
}

/** Receives the bytes of a socket taken out of HTTP (see `HttpConnection.takeSocket`). */
export interface RawReader {
  /** One read; the buffer is the reader's to keep. */
  onRawData(chunk: Buffer): void;
}

/** A socket taken out of HTTP after a `101`. */
export interface TakenSocket {
  readonly socket: Socket;
  /** Bytes read past the 101 head (the new protocol's first bytes), or null. */
  readonly head: Buffer | null;
  /** The peer already closed its side (its FIN arrived before the hand-over). */
  readonly ended: boolean;
}

/** How the request body is framed on the wire. */
export type RequestBodyFraming = 'none' | 'content-length' | 'chunked';

export interface RequestOptions {
  /**
   * `'none'`: no body. `'content-length'`: the caller put a `Content-Length` header in the head
   * and writes exactly that many bytes. `'chunked'`: the connection adds
   * `Transfer-Encoding: chunked` and frames each `writeBody` chunk.
   */
  body: RequestBodyFraming;
  /** Longest silence while waiting for the response head and between body chunks; 0 = none. */
  readTimeoutMs: number;
  /** Longest silence while the request is being written; 0 = none. */
  writeTimeoutMs: number;
  /**
   * The request asks for a protocol upgrade (`Connection: upgrade` + `Upgrade`): a `101` answer
   * is reported as the head and ends HTTP (see `takeSocket`). Without it a `101` is an invalid
   * response. Default false.
   */
  upgrade?: boolean;
}

/** The connection's owner (the pool): told when it closes, and keeps its deadlines checked. */
export interface ConnectionOwner {
  onConnectionClosed(conn: HttpConnection): void;
  /** A timeout of `ms` was armed: call `conn.checkTimeout(Date.now())` at least every `ms / 4` from now on. */
  watchTimeout(ms: number): void;
}

const PHASE_IDLE = 0;
/** `deadline` of a connection parked since the last sweep tick. */
const IDLE_FROM_NEXT_TICK = -1;
const PHASE_ACTIVE = 1;
const PHASE_CLOSED = 2;
/** The socket was handed over after a `101` (`takeSocket`): reads go to `rawReader`. */
const PHASE_TAKEN = 3;

const kConnection = Symbol('pingora-ts.httpConnection');

interface TaggedSocket extends Socket {
  [kConnection]?: HttpConnection;
}

/** `onread` options for `connect()`: the sockets of `HttpConnection`s made with `readShared` (see `shared-reads.ts`). */
export const SHARED_READS = sharedReads((socket) => (socket as TaggedSocket)[kConnection]);

export class HttpConnection implements ResponseParserSink, TimeoutTarget, SharedReader {
  /** The peer's reuse key (see `peerKey`). */
  readonly key: string;
  readonly socket: Socket;
  /** True when this connection carried an earlier request (set by the pool on each acquire). */
  reused = false;
  /** Requests started on this connection. */
  requests = 0;
  /** @internal The pool's bookkeeping slot (its per-peer bucket). */
  slot: unknown = null;
  /** @internal How long the pool may keep it idle. */
  readonly idleTimeoutMs: number;

  private phase = PHASE_ACTIVE;
  private handler: ResponseHandler | null = null;
  private readonly parser: ResponseParser;
  private paused = false;
  private executing = false;
  private pending: Buffer | null = null;
  private eofPending = false;
  private requestDone = true;
  private responseDone = true;
  private chunked = false;
  private readTimeoutMs = 0;
  /**
   * The armed timeout (0: none) and when it fires (`Date.now()` based; pushed back by socket
   * activity). `IDLE_FROM_NEXT_TICK`: parked; the pool's next sweep tick starts the idle timeout.
   */
  private timeoutMs = 0;
  private deadline = 0;
  /** Whether the socket keeps the process alive (idle ones do not, from the sweep tick after parking). */
  private refed = true;
  private socketError: NodeJS.ErrnoException | null = null;
  private protocolBroken = false;
  /** The bytes being parsed are in a buffer that is read into again: what outlives the read is copied. */
  private lent = false;
  /** @internal Kept by `SHARED_READS`: the buffer this connection reads the rest of a large body into. */
  ownReadBuffer: Buffer | null = null;
  /** The last response was large: the next one probably is too, and may come in one read. */
  private largeResponses = false;
  /** Where reads go after `takeSocket`. */
  private rawReader: RawReader | null = null;

  /**
   * `readShared`: the socket was connected with `SHARED_READS` (it emits no `data` events);
   * otherwise it is read through `data` events.
   */
  constructor(
    socket: Socket,
    key: string,
    idleTimeoutMs: number,
    private readonly owner: ConnectionOwner,
    readShared = false,
  ) {
    this.socket = socket;
    this.key = key;
    this.idleTimeoutMs = idleTimeoutMs;
    this.parser = new ResponseParser(this);
    if (readShared) (socket as TaggedSocket)[kConnection] = this;
    else socket.on('data', this.onSocketData);
    socket.on('end', this.onSocketEnd);
    socket.on('error', this.onSocketError);
    socket.on('close', this.onSocketClose);
    socket.on('drain', this.onSocketDrain);
  }

  /** Whether the socket is gone (closed or destroyed). */
  get closed(): boolean {
    return this.phase === PHASE_CLOSED || this.socket.destroyed;
  }

  /**
   * Whether the connection can carry another request: the response and request completed,
   * the peer allowed keep-alive, and nothing unexpected was received.
   */
  get reusable(): boolean {
    return (
      this.phase !== PHASE_CLOSED &&
      !this.socket.destroyed &&
      this.handler === null &&
      this.requestDone &&
      this.responseDone &&
      this.parser.keepAlive &&
      !this.protocolBroken &&
      this.pending === null
    );
  }

  /**
   * Starts a request: writes the head now. A body, if any, follows with `writeBody`/`endBody`.
   * `rawHeaders` is `[name, value, …]` without framing headers except the caller's
   * `Content-Length` (for `'content-length'` framing). Values must be valid header text.
   */
  request(method: string, path: string, rawHeaders: readonly string[], handler: ResponseHandler, opts: RequestOptions): void {
    if (this.handler !== null) throw new Error('a request is already running on this connection');
    if (this.phase !== PHASE_ACTIVE || this.socket.destroyed) throw this.closedError(this.socketError);
    this.handler = handler;
    this.requests++;
    this.requestDone = opts.body === 'none';
    this.responseDone = false;
    this.chunked = opts.body === 'chunked';
    this.paused = false;
    this.readTimeoutMs = opts.readTimeoutMs;
    this.parser.reset(method === 'HEAD', opts.upgrade === true);
    let head = method + ' ' + path + ' HTTP/1.1\r\n';
    for (let i = 0; i + 1 < rawHeaders.length; i += 2) head += rawHeaders[i] + ': ' + rawHeaders[i + 1] + '\r\n';
    head += this.chunked ? 'transfer-encoding: chunked\r\n\r\n' : '\r\n';
    this.armTimeout(this.requestDone ? opts.readTimeoutMs : opts.writeTimeoutMs);
    this.socket.write(head, 'latin1');
  }

  /** Writes one piece of the request body. Returns `false` when the caller should wait for `onRequestDrain`. */
  writeBody(chunk: Buffer): boolean {
    if (this.phase === PHASE_CLOSED || this.requestDone) return false;
    this.touch();
    if (!this.chunked) return this.socket.write(chunk);
    if (chunk.length === 0) return true;
    const s = this.socket;
    s.cork();
    s.write(chunk.length.toString(16) + '\r\n', 'latin1');
    s.write(chunk);
    const ok = s.write('\r\n', 'latin1');
    s.uncork();
    return ok;
  }

  /**
   * Ends the request body: writes the last chunk when chunked, with `trailers`
   * (`[name, value, …]`, valid header text) when given; a counted body cannot carry them.
   */
  endBody(trailers: readonly string[] | null = null): void {
    if (this.phase === PHASE_CLOSED || this.requestDone) return;
    if (this.chunked) this.socket.write(lastChunk(trailers), 'latin1');
    this.requestDone = true;
    if (!this.responseDone && !this.paused) this.armTimeout(this.readTimeoutMs);
  }

  /**
   * Stops reading the response (backpressure). The read timeout does not run while paused.
   * Called from inside a handler callback, the parser stops after that callback and keeps the
   * rest of the bytes for `resume()`.
   */
  pause(): void {
    if (this.paused || this.handler === null) return;
    this.paused = true;
    this.parser.stopped = true;
    if (this.executing) return; // `feed` stops the socket and the timeout if still paused when the parser returns
    this.socket.pause();
    this.armTimeout(0);
  }

  /**
   * Continues reading after `pause()`; delivers what was held back first. Called from inside a
   * handler callback (a handler that paused and made up its mind at once), parsing simply goes on.
   */
  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    this.parser.stopped = false;
    if (this.executing || this.handler === null) return;
    if (!this.responseDone && this.requestDone) this.armTimeout(this.readTimeoutMs);
    const pending = this.pending;
    if (pending !== null) {
      this.pending = null;
      this.feed(pending);
      if (this.paused || this.handler === null) return;
    }
    if (this.eofPending) {
      this.eofPending = false;
      this.onEof();
      return;
    }
    if (!this.socket.destroyed) this.socket.resume();
  }

  /**
   * After the handler got a `101` head (the request was sent with `upgrade: true`), or on a
   * connection handed out with no request running (a `CONNECT` tunnel): the socket leaves HTTP
   * and is the caller's from now on. Returns it with the bytes read past the head (copied out
   * of a shared read buffer); give it a `RawReader` with `readRaw` in the same tick, then
   * `socket.resume()`. The connection is never reused: the pool counts it until the socket
   * closes, and `pool.release` must not be called for it. Throws in any other state.
   */
  takeSocket(): TakenSocket {
    const clean = this.handler === null && this.responseDone && this.requestDone && this.pending === null;
    if (this.phase !== PHASE_ACTIVE || this.socket.destroyed || !(this.parser.upgraded || clean)) {
      throw new Error('takeSocket: the connection is not between requests and did not switch protocols');
    }
    this.phase = PHASE_TAKEN;
    this.handler = null;
    this.paused = false;
    this.timeoutMs = 0;
    this.deadline = 0;
    const head = this.pending;
    this.pending = null;
    const ended = this.eofPending;
    this.eofPending = false;
    return { socket: this.socket, head, ended };
  }

  /** After `takeSocket`: every read of the socket goes to `reader` from now on. */
  readRaw(reader: RawReader): void {
    this.rawReader = reader;
  }

  /** Gives up on the current request: the handler hears nothing more and the socket is destroyed. */
  abort(): void {
    this.handler = null;
    this.parser.stopped = true;
    this.responseDone = true;
    this.destroy();
  }

  /** Destroys the socket. */
  destroy(): void {
    if (!this.socket.destroyed) this.socket.destroy();
  }

  /** @internal Called by the pool when it hands the connection out. */
  activate(reused: boolean): void {
    this.phase = PHASE_ACTIVE;
    this.reused = reused;
    this.timeoutMs = 0;
    this.deadline = 0;
    if (!this.refed) {
      this.refed = true;
      this.socket.ref();
    }
  }

  /**
   * @internal Called by the pool when it keeps the connection idle. The idle timeout and the
   * `unref()` start at the sweep's next tick: a connection reused before then (the common
   * case under load) costs no timer and no ref/unref.
   */
  park(): void {
    this.phase = PHASE_IDLE;
    this.paused = false;
    this.parser.stopped = false;
    this.timeoutMs = this.idleTimeoutMs;
    this.deadline = IDLE_FROM_NEXT_TICK;
    this.owner.watchTimeout(this.idleTimeoutMs);
    if (this.socket.isPaused()) this.socket.resume();
  }

  /**
   * @internal Idle since before the sweep tick at `now` (a connection parked since the last
   * tick is seen idle first at this one, and is not counted).
   */
  idleBefore(now: number): boolean {
    return this.phase === PHASE_IDLE && this.deadline !== IDLE_FROM_NEXT_TICK && this.deadline - this.timeoutMs < now;
  }

  /** @internal Called by the pool's sweep: fires the armed timeout once it is due. */
  checkTimeout(now: number): void {
    if (this.deadline === IDLE_FROM_NEXT_TICK) {
      this.deadline = now + this.timeoutMs;
      if (this.refed) {
        this.refed = false;
        this.socket.unref();
      }
      return;
    }
    if (this.deadline === 0 || now < this.deadline) return;
    this.deadline = 0;
    this.timeoutMs = 0;
    this.onTimeout();
  }

  /** Arms a timeout of `ms` (0: none) from now; socket activity pushes it back. */
  private armTimeout(ms: number): void {
    this.timeoutMs = ms;
    if (ms === 0) {
      this.deadline = 0;
      return;
    }
    this.deadline = Date.now() + ms;
    this.owner.watchTimeout(ms);
  }

  /** The socket moved bytes: an armed timeout counts from now. */
  private touch(): void {
    if (this.timeoutMs !== 0 && this.deadline !== IDLE_FROM_NEXT_TICK) this.deadline = Date.now() + this.timeoutMs;
  }

  /** @internal ResponseParserSink: called by the parser, not by users. */
  onHead(status: number, reason: string, rawHeaders: string[]): void {
    this.handler?.onResponseHead(status, reason, rawHeaders);
  }

  /** @internal */
  onBody(chunk: Buffer): void {
    // Handlers may keep a chunk (a queued write, a body filter): never hand them the shared buffer.
    this.handler?.onResponseData(this.lent ? Buffer.from(chunk) : chunk);
  }

  /** @internal */
  onComplete(rawTrailers: string[] | null): void {
    const handler = this.handler;
    this.handler = null;
    this.largeResponses = this.parser.bytesRead >= OWN_READ_MIN;
    this.responseDone = true;
    this.paused = false;
    this.parser.stopped = false;
    if (this.socket.isPaused()) this.socket.resume();
    this.timeoutMs = 0;
    this.deadline = 0;
    handler?.onResponseEnd(rawTrailers);
  }

  private feed(buf: Buffer): void {
    this.executing = true;
    let at: number;
    try {
      at = this.parser.execute(buf, 0);
    } catch (err) {
      this.executing = false;
      this.fail(ProxyError.from(err, { kind: 'InvalidHTTPResponse', source: 'upstream' }));
      return;
    }
    this.executing = false;
    if (at < buf.length) {
      if (this.parser.upgraded) {
        // The new protocol's first bytes: kept for `takeSocket` (the handler paused at the head),
        // or handed on when the socket was taken from inside the head's callback.
        const rest = this.lent ? Buffer.from(buf.subarray(at)) : buf.subarray(at);
        const reader = this.rawReader;
        if (this.phase === PHASE_TAKEN && reader !== null) {
          reader.onRawData(rest);
        } else {
          this.pending = this.pending === null ? rest : Buffer.concat([this.pending, rest]);
          if (!this.socket.isPaused()) this.socket.pause();
        }
      } else if (this.parser.done) {
        // Bytes after a complete response: the peer is not speaking plain request/response.
        this.protocolBroken = true;
        if (this.phase === PHASE_IDLE || this.handler === null) this.destroy();
      } else if (this.paused) {
        const rest = this.lent ? Buffer.from(buf.subarray(at)) : buf.subarray(at);
        this.pending = this.pending === null ? rest : Buffer.concat([this.pending, rest]);
        if (!this.socket.isPaused()) this.socket.pause();
      } else if (this.handler !== null) {
        // resumed from inside a callback after the parser had stopped: carry on
        this.feed(buf.subarray(at));
      }
    } else if (this.paused && this.handler !== null) {
      this.socket.pause(); // paused from inside a callback: stop the socket now that the parser returned
    }
    if (this.paused && this.handler !== null) this.armTimeout(0);
  }

  private onEof(): void {
    const handler = this.handler;
    if (handler === null || this.responseDone) return;
    if (this.parser.readsUntilClose) {
      this.parser.finish();
      return;
    }
    this.fail(this.closedError(this.socketError));
  }

  private fail(err: ProxyError): void {
    const handler = this.handler;
    this.handler = null;
    this.responseDone = true;
    this.parser.stopped = true;
    this.destroy();
    if (handler !== null) handler.onResponseError(err);
  }

  private closedError(cause: NodeJS.ErrnoException | null): ProxyError {
    const where = this.key;
    if (this.parser.bytesRead > 0) {
      return ProxyError.upstream('ReadError', 'upstream closed the connection in the middle of the response', cause ?? undefined, where);
    }
    if (cause !== null && cause.code === 'EPIPE') {
      return ProxyError.upstream('WriteError', 'upstream closed the connection while the request was written', cause, where);
    }
    return ProxyError.upstream('ConnectionClosed', 'upstream closed the connection before responding', cause ?? undefined, where);
  }

  private readonly onSocketData = (buf: Buffer): void => this.onRead(buf, false);

  /**
   * @internal Whether the next read goes to this connection's own buffer: in a large body, or
   * between requests after a large response (a whole 64 KiB response often comes in one read,
   * and in the shared buffer it would have to be copied).
   */
  readsLarge(): boolean {
    return this.handler === null ? this.largeResponses : this.parser.bodyAhead >= OWN_READ_MIN;
  }

  /** @internal Bytes from the socket; `lent`: in a buffer that is read into again, valid during this call only. */
  onRead(buf: Buffer, lent: boolean): void {
    this.touch();
    if (this.phase !== PHASE_ACTIVE || this.handler === null) {
      if (this.phase === PHASE_TAKEN) {
        // A large read makes the next one go to the connection's own buffer, handed on uncopied.
        this.largeResponses = buf.length >= OWN_READ_MIN;
        (this.rawReader as RawReader).onRawData(lent ? Buffer.from(buf) : buf);
        return;
      }
      // Nothing expected: an idle connection got bytes, or a response after its end.
      this.protocolBroken = true;
      this.destroy();
      return;
    }
    if (this.paused || this.pending !== null) {
      const held = lent ? Buffer.from(buf) : buf;
      this.pending = this.pending === null ? held : Buffer.concat([this.pending, held]);
      return;
    }
    this.lent = lent;
    try {
      this.feed(buf);
    } finally {
      this.lent = false;
    }
  }

  private readonly onSocketEnd = (): void => {
    if (this.phase === PHASE_TAKEN) return; // the socket's new owner listens itself
    if (this.paused || this.pending !== null) {
      this.eofPending = true;
      return;
    }
    this.onEof();
  };

  private readonly onSocketError = (err: NodeJS.ErrnoException): void => {
    this.socketError ??= err;
  };

  private readonly onSocketClose = (): void => {
    this.phase = PHASE_CLOSED;
    if (this.handler !== null && !this.responseDone) {
      if (this.paused && (this.eofPending || this.pending !== null)) {
        // Deliver what arrived before the close once the handler resumes.
        this.eofPending = true;
      } else {
        this.fail(this.closedError(this.socketError));
      }
    }
    this.owner.onConnectionClosed(this);
  };

  private onTimeout(): void {
    if (this.phase === PHASE_IDLE) {
      this.destroy(); // idle timeout; the owner drops it on close
      return;
    }
    if (this.handler === null || this.responseDone || this.paused) return;
    if (!this.requestDone && this.parser.bytesRead === 0) {
      this.fail(
        new ProxyError(`writing the request to ${this.key} timed out`, { kind: 'WriteError', source: 'upstream', retry: false, context: this.key }),
      );
      return;
    }
    this.fail(ProxyError.upstream('ReadTimedout', `upstream ${this.key} did not respond within ${this.readTimeoutMs} ms`, undefined, this.key));
  }

  private readonly onSocketDrain = (): void => {
    this.touch();
    this.handler?.onRequestDrain();
  };
}

/** The last chunk of a chunked body, with its trailer fields. */
function lastChunk(trailers: readonly string[] | null): string {
  if (trailers === null || trailers.length === 0) return '0\r\n\r\n';
  let out = '0\r\n';
  for (let i = 0; i + 1 < trailers.length; i += 2) out += trailers[i] + ': ' + trailers[i + 1] + '\r\n';
  return out + '\r\n';
}
