/**
 * One downstream HTTP/1.1 connection on the fast path: bytes from the socket go through a
 * lent llhttp parser; one request is answered at a time.
 *
 * Sequencing. A request starts after the read that carried its head was parsed (so an error
 * later in the same bytes stops it before anything goes upstream). A pipelined head that
 * arrives while a request is being answered is queued and the parser stops right after it
 * (`PAUSE`); the rest of the bytes wait and the socket is paused until the answer ended.
 * A body is taken on demand: chunks that arrive before the runner asks are kept (bounded by
 * one read: reading pauses) and handed over when it does. A `Content-Length` body is counted
 * here, past the parser: llhttp would copy every body span into a new buffer and call into
 * JS for it; pieces of the socket's reads are handed on instead (copied out of the shared read
 * buffer, or, inside a large body, in a buffer of the connection's own that is not read into
 * again). The parser stops after such a head and is swapped for a fresh one for the next request.
 *
 * A request that asks for a protocol switch (`Upgrade`, `CONNECT`) ends what is parsed: bytes
 * after it (after its body, if it has one) are held until its answer is known. A `101` (or a
 * `2xx` to `CONNECT`) hands the socket and those bytes to a `Tunnel` (`takeSocket`): the
 * connection parses nothing more and passes every read on (copied out of the shared read
 * buffer; large reads go to the connection's own buffer and are not copied). Any other answer
 * and the held bytes are parsed as the next request.
 *
 * Timeouts are deadlines checked by the listener's sweep: keep-alive (idle), headers (a head
 * arriving), request (until the body is in), and a short linger once the connection closes.
 *
 * No closures per connection: socket events go to shared functions that find the connection
 * through a symbol on the socket.
 */
import type { Socket } from 'node:net';
import { ProxyError } from '@pingora-ts/core';
import { NO_BODY, OWN_READ_MIN, PAUSE, READ_BODY, readInto, sharedReads, type ParseFailure, type RequestParser, type RequestParserHandler, type SharedReader } from '@pingora-ts/core/internal';
import type { RawReader } from '@pingora-ts/pool';
import type { TunnelSide } from '../flow/tunnel';
import { PREFACE_NOT, PREFACE_PARTIAL, prefaceMatch } from './h2c-preface';
import { refusalHead } from './http1-listener';
import { LlhttpSession } from './llhttp-session';
import type { LlhttpListener } from './llhttp-listener';
import { checkRequestHead, type HeadRefusal } from './request-checks';
import { originFormOf } from './request-target';

const kConnection = Symbol('pingora-ts.llhttpConnection');

interface TaggedSocket extends Socket {
  [kConnection]: LlhttpConnection;
}

/** Between requests: the keep-alive timeout runs. */
const C_IDLE = 0;
/** A request head is arriving (a new connection starts here): the headers timeout runs. */
const C_HEAD = 1;
/** A request is being answered: the request timeout runs until its body is in. */
const C_BUSY = 2;
/** The last bytes are going out; the socket is destroyed at the deadline. */
const C_CLOSING = 3;
/** The socket belongs to a tunnel (`takeSocket`): reads go to `tunnelReader`, nothing is parsed. */
const C_TUNNEL = 4;

export class LlhttpConnection implements RequestParserHandler, SharedReader {
  /** The socket is a TLS socket (`X-Forwarded-Proto: https`). */
  readonly tls: boolean;
  /** The request being answered. */
  current: LlhttpSession | null = null;
  /** The connection closes after the current response (graceful shutdown, a malformed body). */
  closeAfterCurrent = false;
  private phase = C_HEAD;
  /** When the phase's timeout fires (`Date.now()` based); 0: none. */
  private deadline = 0;
  private parser: RequestParser | null = null;
  /** The request whose bytes the parser is in. */
  private reading: LlhttpSession | null = null;
  /** A request parsed in the read being handled, started once that read was parsed. */
  private fresh: LlhttpSession | null = null;
  /** A pipelined request waiting for `current`. */
  private queued: LlhttpSession | null = null;
  /** Bytes held while the parser is stopped after a queued head. */
  private pending: Buffer | null = null;
  /** A refusal (4xx) to send once `current` is answered; nothing is read after it. */
  private refusal: HeadRefusal | null = null;
  /** The last request said `Connection: close` (or was HTTP/1.0): nothing after it is parsed. */
  private lastRequest = false;
  /** Reading is held for a request body nobody takes yet (or backpressure). */
  private bodyHeld = false;
  private readPaused = false;
  /** The request line of the head now arriving has ended (so an overflow is 431, not 414). */
  private lineSeen = false;
  /** Inside the parser's `execute`: the parser must not be given back now. */
  private executing = false;
  /** Bytes of `reading`'s Content-Length body still to come (counted here, not by the parser). */
  private bodyLeft = 0;
  /** @internal Kept by `SHARED_READS`: this connection's own read buffer, inside a large body. */
  ownReadBuffer: Buffer | null = null;
  /** The read being handled is in a buffer that is read into again: what outlives it is copied. */
  private lent = false;
  /** A request asking for a protocol switch: nothing after it is parsed until it was answered. */
  private upgrading: LlhttpSession | null = null;
  /** Where reads go once the socket is a tunnel's. */
  private tunnelReader: RawReader | null = null;
  /** The tunnel's last read was large: the next one goes to the connection's own buffer. */
  private tunnelLarge = false;
  /** The first bytes are checked for the h2c preface (cleartext listeners with `h2c`). */
  private sniffing: boolean;
  /** A beginning of the preface, read while more is needed to know. */
  private sniffed: Buffer | null = null;

  constructor(
    readonly socket: Socket,
    readonly listener: LlhttpListener,
  ) {
    (socket as TaggedSocket)[kConnection] = this;
    this.deadline = Date.now() + listener.headersTimeoutMs;
    this.tls = (socket as { encrypted?: boolean }).encrypted === true;
    this.sniffing = listener.h2c && !this.tls;
    // Plain sockets read into the shared buffer; TLS sockets (and any Node without the internals) emit 'data'.
    if (this.tls || !readInto(socket, SHARED_READS)) socket.on('data', onSocketData);
    socket.on('end', onSocketEnd);
    socket.on('error', onSocketError);
    socket.on('close', onSocketClose);
    socket.on('drain', onSocketDrain);
  }

  /** No request is being answered or waiting (a partial head does not count). */
  get idle(): boolean {
    return this.current === null && this.fresh === null && this.queued === null && this.phase !== C_TUNNEL;
  }

  // RequestParserHandler: called by the parser, inside `execute`

  onRequestHead(method: string, target: string, rawHeaders: string[], versionMajor: number, versionMinor: number, keepAlive: boolean): number {
    this.lineSeen = false;
    const facts = this.listener.facts;
    const refusal = checkRequestHead(method, target, versionMajor, versionMinor, rawHeaders, facts);
    if (refusal !== null) {
      this.refusal = refusal;
      this.lastRequest = true;
      return NO_BODY + PAUSE;
    }
    if (target.charCodeAt(0) !== 47 /* / */) {
      const origin = originFormOf(target, rawHeaders);
      if (origin !== null) {
        target = origin.target;
        rawHeaders = origin.rawHeaders;
      }
    }
    const req = new LlhttpSession(this, method, target, rawHeaders, versionMinor, keepAlive, facts.expectContinue);
    // Without a body the request is complete with its head (llhttp will not report its end).
    const body = facts.hasBody;
    if (body) this.reading = req;
    else req.complete = true;
    if (!keepAlive) this.lastRequest = true;
    // A Content-Length body is counted by `parse`; the parser stops here and is not asked again.
    const counted = body && facts.contentLength > 0;
    if (counted) this.bodyLeft = facts.contentLength;
    let next = counted ? NO_BODY + PAUSE : body ? READ_BODY : NO_BODY;
    if (facts.upgrade) {
      // Nothing after it is parsed until it was answered (a chunked body still is, by llhttp).
      this.upgrading = req;
      if (!body) next = NO_BODY + PAUSE;
    }
    if (this.current === null && this.fresh === null) {
      this.fresh = req;
      // the request timeout counts from the first byte of the head, and ends once the request is in
      if (body) this.enterBusy(this.phase === C_HEAD && this.deadline !== 0 ? this.deadline - this.listener.headersTimeoutMs : Date.now());
      else this.enterBusy(0);
      return next;
    }
    this.queued = req;
    return next | PAUSE;
  }

  onRequestBody(chunk: Buffer): void {
    this.reading?.bodyChunk(chunk);
  }

  onRequestComplete(trailers: string[] | null): void {
    const req = this.reading;
    if (req === null) return;
    this.reading = null;
    this.bodyHeld = false;
    req.bodyComplete(trailers);
    if (this.phase !== C_BUSY) return;
    if (req === this.current || req === this.fresh) {
      this.deadline = 0; // the request is in: no request timeout while it is answered
    } else if (req.ended && this.idle) {
      this.toIdle(); // the rest of an answered request's body was read and dropped
    }
  }

  // From the request objects

  /** Holds reading while `req`'s body has no taker (or the taker is full). */
  holdBody(req: LlhttpSession, hold: boolean): void {
    if (req !== this.reading) return;
    this.bodyHeld = hold;
    this.updateReading();
  }

  /** `req`'s response ended: keep the connection for the next request, or close it. */
  responseEnded(req: LlhttpSession): void {
    if (req !== this.current) return;
    this.current = null;
    // Refused (no switch): what the client sent after it is parsed as the next request.
    if (req === this.upgrading) this.upgrading = null;
    if (this.socket.destroyed || this.phase === C_CLOSING) return;
    if (!req.keepAlive || this.closeAfterCurrent || this.listener.closing) {
      this.close();
      return;
    }
    if (this.refusal !== null) {
      this.refuse();
      return;
    }
    if (!req.complete) {
      // Answered before its body was all in: read and drop the rest, then idle.
      req.stopBody(true);
      return;
    }
    if (this.queued !== null || this.pending !== null) {
      // Not from inside the finished request's call stack: on the next tick.
      process.nextTick(continueConnection, this);
      return;
    }
    this.toIdle();
  }

  // From the listener

  /** Sweep tick: fires the phase's timeout when due; gives back the parser of an idle connection. */
  checkTimeout(now: number): void {
    if (this.phase === C_IDLE) this.giveParser();
    if (this.deadline === 0 || now < this.deadline) return;
    this.deadline = 0;
    switch (this.phase) {
      case C_HEAD:
        this.refusal = { status: 408, code: 'ERR_HTTP_REQUEST_TIMEOUT', detail: `request head not received within ${this.listener.headersTimeoutMs} ms` };
        this.refuse();
        break;
      case C_BUSY: {
        const req = this.current;
        if (req === null) this.socket.destroy(); // the body of an answered request is too slow to drain
        else this.failCurrent(req, 408, 'ERR_HTTP_REQUEST_TIMEOUT', `request not received within ${this.listener.requestTimeoutMs} ms`);
        break;
      }
      default:
        this.socket.destroy(); // keep-alive timeout, or the linger after closing
        break;
    }
  }

  // Socket events (through the shared functions below)

  /** @internal Bytes from the socket; `lent`: valid during this call only (the buffer is read into again). */
  onRead(buf: Buffer, lent: boolean): void {
    if (this.phase === C_TUNNEL) {
      this.tunnelLarge = buf.length >= OWN_READ_MIN;
      (this.tunnelReader as RawReader).onRawData(lent ? Buffer.from(buf) : buf);
      return;
    }
    if (this.sniffing && this.sniff(buf, lent)) return;
    if (this.phase === C_CLOSING || (this.lastRequest && this.reading === null && this.pending === null && this.upgrading === null)) return; // read and dropped
    if (this.pending !== null || (this.upgrading !== null && this.reading === null)) {
      // Held: after a queued head, or after a request asking for a protocol switch.
      this.pending = this.pending === null ? Buffer.from(buf) : Buffer.concat([this.pending, buf]);
      this.updateReading();
      return;
    }
    if (this.phase === C_IDLE) {
      this.phase = C_HEAD;
      this.deadline = Date.now() + this.listener.headersTimeoutMs;
    }
    this.lent = lent;
    this.parse(buf);
    this.lent = false;
  }

  /**
   * The first read(s) of a cleartext connection: h2c's preface hands the connection to the
   * HTTP/2 side; anything else is HTTP/1.1 from here on. Returns true when `buf` was taken.
   */
  private sniff(buf: Buffer, lent: boolean): boolean {
    const held = this.sniffed;
    const bytes = held === null ? buf : Buffer.concat([held, buf]);
    const m = prefaceMatch(bytes);
    if (m === PREFACE_NOT) {
      this.sniffing = false;
      if (held === null) return false;
      this.sniffed = null;
      this.onRead(bytes, false);
      return true;
    }
    if (m === PREFACE_PARTIAL) {
      this.sniffed = lent && held === null ? Buffer.from(bytes) : bytes;
      return true;
    }
    this.sniffing = false;
    this.sniffed = null;
    this.handOver(lent && held === null ? Buffer.from(bytes) : bytes);
    return true;
  }

  /** Stops serving HTTP/1.1 on the socket and gives it, with `bytes`, to the listener's HTTP/2 side. */
  private handOver(bytes: Buffer): void {
    const s = this.socket;
    s.removeListener('data', onSocketData);
    s.removeListener('end', onSocketEnd);
    s.removeListener('error', onSocketError);
    s.removeListener('close', onSocketClose);
    s.removeListener('drain', onSocketDrain);
    this.phase = C_CLOSING;
    this.deadline = 0;
    this.giveParser();
    // Stop reading now; node:http2 takes the socket after this read's callback returned.
    s.pause();
    s.on('error', onSocketError);
    setImmediate(handOverSoon, this, bytes);
  }

  /** @internal */
  handOverNow(bytes: Buffer): void {
    this.socket.removeListener('error', onSocketError);
    if (this.socket.destroyed) {
      this.listener.closedConnection(this);
      return;
    }
    this.listener.handToHttp2(this, this.socket, bytes);
  }

  /** @internal Reads inside a large body go to this connection's own buffer (see `sharedReads`). */
  readsLarge(): boolean {
    return this.bodyLeft >= OWN_READ_MIN || this.tunnelLarge;
  }

  /** @internal The client closed its side: like node:http, that aborts what it asked for (a tunnel handles its own). */
  onEnd(): void {
    if (this.phase !== C_TUNNEL) this.socket.destroy();
  }

  /**
   * @internal `req` switched protocols (its `101`, or a `2xx` to `CONNECT`, was written): the
   * socket leaves HTTP for a tunnel, with the bytes the client sent after the request. The
   * connection stays tracked by its listener (shutdown, counts) until the socket closes.
   */
  takeSocket(req: LlhttpSession): TunnelSide {
    if (req !== this.current || req !== this.upgrading || this.phase === C_CLOSING || this.socket.destroyed) {
      throw new Error('takeSocket: the request did not ask for a protocol switch, or its connection is closing');
    }
    this.phase = C_TUNNEL;
    this.deadline = 0;
    this.current = this.fresh = this.queued = this.reading = this.upgrading = null;
    this.refusal = null;
    this.bodyLeft = 0;
    const head = this.pending;
    this.pending = null;
    this.giveParser();
    return { socket: this.socket, head, ended: false, startReads: this.startTunnelReads };
  }

  private readonly startTunnelReads = (reader: RawReader): void => {
    this.tunnelReader = reader;
  };

  /** @internal */
  onClose(): void {
    this.listener.closedConnection(this);
    this.phase = C_CLOSING;
    this.deadline = 0;
    // Made only when a request is still being answered: an error (its stack) costs a few µs,
    // and most connections close between requests.
    const req = this.current;
    if (req !== null && !req.ended) req.fail(ProxyError.downstream('ClientGone', 'the client closed the connection'));
    this.fresh = this.queued = this.reading = this.current = null;
    this.pending = null;
    this.bodyLeft = 0;
    this.giveParser();
  }

  /** @internal */
  continueAfterResponse(): void {
    if (this.socket.destroyed || this.phase === C_CLOSING || this.current !== null) return;
    const next = this.queued;
    if (next !== null) {
      this.queued = null;
      this.fresh = next;
      this.enterBusy(next.complete ? 0 : Date.now());
    }
    const rest = this.pending;
    this.pending = null;
    if (rest !== null) {
      if (next === null) this.toHead();
      this.parse(rest);
    } else {
      this.afterParse();
    }
  }

  private parse(buf: Buffer): void {
    let at = 0;
    while (at < buf.length) {
      if (this.bodyLeft > 0) {
        at = this.takeBody(buf, at);
        if (this.bodyLeft === 0 && this.upgrading !== null) {
          // After the body of a request asking for a protocol switch: held until it is answered.
          if (at < buf.length) this.pending = this.keep(buf.subarray(at));
          break;
        }
        // After the body of a `Connection: close` request, what follows is read and dropped.
        if (this.bodyLeft === 0 && this.lastRequest) break;
        continue;
      }
      const input = at === 0 ? buf : buf.subarray(at);
      const parser = (this.parser ??= this.listener.parsers.take(this));
      this.executing = true;
      const r = parser.execute(input);
      this.executing = false;
      if (typeof r === 'number') {
        // An `Upgrade` or `CONNECT` request ends llhttp's parse (a pause after its head is
        // reported this way too). A body counted here follows; what comes after waits for the
        // answer, and is parsed as the next request on a fresh parser unless it switched.
        if (this.upgrading !== null) {
          this.dropParser();
          at += r;
          if (this.bodyLeft > 0) continue;
          if (at < buf.length) this.pending = this.keep(buf.subarray(at));
          break;
        }
        if (r < input.length) this.pending = this.keep(input.subarray(r));
        break;
      }
      if (r.code !== 'HPE_PAUSED') {
        this.parseFailed(r, input);
        return;
      }
      parser.resume();
      at += r.bytesParsed;
      // Stopped after a head whose body is counted here: the parser's message is dropped with it.
      if (this.bodyLeft > 0) this.dropParser();
      else if (this.upgrading !== null && this.reading === null) {
        // Stopped after the head of a protocol switch without a body: the rest waits for its answer.
        this.dropParser();
        if (at < buf.length) this.pending = this.keep(buf.subarray(at));
        break;
      }
      if (this.queued !== null) {
        // Stopped after a pipelined head: the rest waits until the request before it is answered.
        if (at < buf.length) this.pending = this.keep(buf.subarray(at));
        break;
      }
    }
    if (this.phase === C_HEAD && !this.lineSeen) this.lineSeen = buf.indexOf(10) >= 0;
    this.afterParse();
  }

  /** Hands `buf` from `at` to the request body being counted; returns where the body ended. */
  private takeBody(buf: Buffer, at: number): number {
    const n = Math.min(this.bodyLeft, buf.length - at);
    this.bodyLeft -= n;
    this.onRequestBody(this.keep(at === 0 && n === buf.length ? buf : buf.subarray(at, at + n)));
    if (this.bodyLeft === 0) this.onRequestComplete(null);
    return at + n;
  }

  /** `bytes` as they may be kept past this read: a copy when the read is only lent. */
  private keep(bytes: Buffer): Buffer {
    return this.lent ? Buffer.from(bytes) : bytes;
  }

  /** Gives the parser back without its state (the next head starts on a fresh one). */
  private dropParser(): void {
    if (this.parser === null) return;
    this.listener.parsers.give(this.parser);
    this.parser = null;
  }

  /** Starts the request parsed in this read, sends a refusal that is due, sets reading. */
  private afterParse(): void {
    const next = this.fresh;
    if (next !== null && this.current === null) {
      this.fresh = null;
      this.current = next;
      this.listener.onRequest(next);
    }
    if (this.refusal !== null && this.current === null && this.fresh === null && !this.socket.destroyed && this.phase !== C_CLOSING) {
      this.refuse();
      return;
    }
    this.updateReading();
  }

  private parseFailed(err: ParseFailure, buf: Buffer): void {
    let status = 400;
    if (err.code === 'HPE_HEADER_OVERFLOW') {
      // Over the limit before the request line ended: the target is too long.
      const lf = buf.indexOf(10);
      status = this.lineSeen || (lf >= 0 && lf < err.bytesParsed) ? 431 : 414;
    }
    this.lastRequest = true;
    const req = this.reading;
    this.reading = null;
    if (req !== null && req.ended) {
      // The dropped rest of an answered request's body: nothing to answer, just close.
      this.listener.logRefusal(this.socket, status, err.code, err.reason);
      this.close();
      return;
    }
    if (req !== null && req === this.current) {
      // Its body turned out malformed while it is being answered: the runner aborts the upstream
      // request and answers 400 if no head went out yet; the connection closes after.
      this.failCurrent(req, status, err.code, err.reason);
      return;
    }
    if (req !== null && req === this.fresh) this.fresh = null; // never started: nothing went upstream
    this.refusal = { status, code: err.code, detail: err.reason };
    this.afterParse();
  }

  /** Ends the current request with a downstream error and closes after its response. */
  private failCurrent(req: LlhttpSession, status: number, code: string, detail: string): void {
    this.listener.logRefusal(this.socket, status, code, detail);
    this.closeAfterCurrent = true;
    this.lastRequest = true;
    this.bodyHeld = false;
    this.updateReading();
    req.fail(new ProxyError(detail, { kind: 'InvalidHTTPRequest', source: 'downstream', status }));
  }

  /** Answers the pending refusal with `Connection: close`, logs it, and closes. */
  private refuse(): void {
    const r = this.refusal as HeadRefusal;
    this.refusal = null;
    this.listener.logRefusal(this.socket, r.status, r.code, r.detail);
    if (this.current !== null) {
      this.socket.destroy(); // never while a response is under way; refusals wait for it
      return;
    }
    this.fresh = this.queued = this.reading = null;
    this.socket.write(refusalHead(r.status), 'latin1');
    this.close();
  }

  /** Sends what is queued, then FIN; input is read and dropped meanwhile, destroyed after a linger. */
  private close(): void {
    this.phase = C_CLOSING;
    this.deadline = 0;
    this.pending = null;
    this.bodyHeld = false;
    const s = this.socket;
    if (s.destroyed) return;
    this.updateReading();
    s.end();
    if (s.writableFinished) this.linger();
    else s.once('finish', onSocketFinish);
  }

  /** @internal Our side is flushed: give the client a moment to close first, then destroy. */
  linger(): void {
    this.deadline = Date.now() + this.listener.lingerMs;
  }

  /** A request is answered; the request timeout runs from `since` (0: the request is already in). */
  private enterBusy(since: number): void {
    this.phase = C_BUSY;
    const t = this.listener.requestTimeoutMs;
    this.deadline = t > 0 && since !== 0 ? since + t : 0;
  }

  private toIdle(): void {
    if (this.phase === C_CLOSING) return;
    if (this.lastRequest) {
      this.close();
      return;
    }
    this.phase = C_IDLE;
    this.deadline = Date.now() + this.listener.keepAliveTimeoutMs;
    if (this.listener.parsers.crowded) this.giveParser();
    this.updateReading();
  }

  /** Gives the parser back between messages (a busy connection keeps it from request to request). */
  private giveParser(): void {
    if (this.parser === null || this.pending !== null || this.executing) return;
    this.listener.parsers.give(this.parser);
    this.parser = null;
  }

  private toHead(): void {
    this.phase = C_HEAD;
    this.deadline = Date.now() + this.listener.headersTimeoutMs;
  }

  /** Reads unless bytes are held for a queued request or a body has no taker. */
  private updateReading(): void {
    const read = this.pending === null && !this.bodyHeld;
    if (read === !this.readPaused || this.socket.destroyed) return;
    this.readPaused = !read;
    if (read) this.socket.resume();
    else this.socket.pause();
  }
}

function onSocketData(this: Socket, buf: Buffer): void {
  (this as TaggedSocket)[kConnection].onRead(buf, false);
}

/** Plain sockets read into one shared buffer (see `readInto` and the pool's `sharedReads`). */
const SHARED_READS = sharedReads((socket) => (socket as TaggedSocket)[kConnection]);

function onSocketEnd(this: Socket): void {
  (this as TaggedSocket)[kConnection].onEnd();
}

function onSocketClose(this: Socket): void {
  (this as TaggedSocket)[kConnection].onClose();
}

function onSocketDrain(this: Socket): void {
  (this as TaggedSocket)[kConnection].current?.drained();
}

function onSocketFinish(this: Socket): void {
  (this as TaggedSocket)[kConnection].linger();
}

function onSocketError(): void {
  // 'close' follows and tells the request.
}

function handOverSoon(conn: LlhttpConnection, bytes: Buffer): void {
  conn.handOverNow(bytes);
}

function continueConnection(conn: LlhttpConnection): void {
  conn.continueAfterResponse();
}
