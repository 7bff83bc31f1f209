/**
 * The node:http path's listener (the fallback when llhttp's internal binding is unavailable,
 * or `downstream: 'node:http'`): node:http parses, keeps connections alive and runs the header
 * and request timeouts; this adds what the llhttp path does too: the same head checks, malformed
 * requests refused (4xx + a warn log line, only that connection closed), pipelined requests
 * run one at a time (node:http would run them together), and `Http1Listener`'s graceful shutdown.
 * An `Upgrade` request or a `CONNECT` comes with its raw socket (node:http's `'upgrade'` and
 * `'connect'`) and is served by a `NodeUpgradeSession`.
 */
import * as http from 'node:http';
import type { Socket } from 'node:net';
import type { Logger } from '@pingora-ts/core';
import type { DownstreamLimits, RequestHandler } from './downstream-session';
import { sniffPreface } from './h2c-preface';
import { Http1Listener, refusalHead } from './http1-listener';

import { NodeHttpSession } from './node-http-session';
import { NodeUpgradeSession } from './node-upgrade-session';
import { checkRequestHead } from './request-checks';

const kInflight = Symbol('pingora-ts.inflight');
const kListener = Symbol('pingora-ts.listener');
const kResponse = Symbol('pingora-ts.response');
const kRefused = Symbol('pingora-ts.refused');
const kWaiting = Symbol('pingora-ts.waiting');
const kRunning = Symbol('pingora-ts.running');

interface TrackedSocket extends Socket {
  /** Requests received and not yet answered on this connection. */
  [kInflight]: number;
  [kListener]: NodeHttpListener;
  /** The latest response on this connection. */
  [kResponse]: http.ServerResponse | null;
  /** The connection was answered with a 4xx and is closing: requests parsed before that are not run. */
  [kRefused]: boolean;
  /** The request being run; later (pipelined) ones wait in `kWaiting`. */
  [kRunning]: http.ServerResponse | null;
  [kWaiting]: NodeHttpSession[];
}

export class NodeHttpListener extends Http1Listener<TrackedSocket> {
  private readonly server: http.Server;

  constructor(
    addr: string,
    limits: DownstreamLimits,
    private readonly onRequest: RequestHandler,
    logger: Logger,
    service: string,
  ) {
    super(addr, logger, service);
    const shortest = Math.min(limits.headersTimeoutMs, limits.requestTimeoutMs > 0 ? limits.requestTimeoutMs : Infinity);
    const server = http.createServer({
      maxHeaderSize: limits.maxHeaderSize,
      noDelay: true,
      // how often node:http checks the headers and request timeouts (its default is 30 s)
      connectionsCheckingInterval: Math.max(5, Math.min(30_000, Math.floor(shortest / 4))),
    });
    server.keepAliveTimeout = limits.keepAliveTimeoutMs;
    server.headersTimeout = limits.headersTimeoutMs;
    server.requestTimeout = limits.requestTimeoutMs;
    server.on('connection', this.onConnection);
    server.on('request', this.handleRequest);
    server.on('checkExpectation', this.handleRequest); // an Expect other than 100-continue: refused like the llhttp path
    server.on('clientError', this.onClientError);
    server.on('connect', this.onUpgrade);
    server.on('upgrade', this.onUpgrade);
    this.server = server;
  }

  /** Cleartext sockets whose first bytes are still being read (h2c or HTTP/1.1?). */
  private readonly sniffing = new Set<Socket>();

  /**
   * The http.Server never listens itself: core accepts, and each socket is handed to it. With
   * h2c, a cleartext socket's first bytes are read here first (node:http has no h2c): the
   * preface sends it to the HTTP/2 side, anything else to node:http with the bytes given back.
   */
  protected serve(socket: Socket): void {
    if (!this.h2c || this.http2 === null || (socket as { encrypted?: boolean }).encrypted === true) {
      this.server.emit('connection', socket);
      return;
    }
    this.sniffing.add(socket);
    const timer = setTimeout(destroySocket, this.server.headersTimeout, socket);
    timer.unref();
    socket.once('close', () => {
      clearTimeout(timer);
      this.sniffing.delete(socket);
    });
    sniffPreface(socket, (h2, bytes) => {
      clearTimeout(timer);
      this.sniffing.delete(socket);
      if (this.closing || socket.destroyed) {
        socket.destroy();
      } else if (h2) {
        this.http2?.take(socket, bytes);
      } else {
        // The bytes already went through the socket's stream (its 'data'), and the stream keeps
        // reading ahead on its own (`maybeReadMore`), so node:http must read through the stream
        // too: a 'data' listener added after 'connection' makes it stop consuming the handle
        // directly. Consumed, its backpressure (stopping the handle) was undone by the stream's
        // next read-ahead and an upload ran without any. Then the first bytes, as 'data'.
        this.server.emit('connection', socket);
        socket.on('data', ignoreData);
        socket.emit('data', bytes);
      }
    });
  }

  /** @internal Sockets still being sniffed are idle connections too. */
  override closeIdle(): void {
    for (const s of this.sniffing) s.destroy();
    super.closeIdle();
  }

  protected started(): void {
    // node:http starts its headers/request timeout checks on 'listening' (Node 20, 22 and 24
    // register setupConnectionsTracking for it; test/http1.test.ts checks the timeouts on each);
    // our server is fed sockets instead, so say it.
    this.server.emit('listening');
  }

  protected stopped(): void {
    this.server.close(() => {}); // stops node:http's connection checks (it never listened: the error is expected)
  }

  protected isIdle(s: TrackedSocket): boolean {
    return s[kInflight] === 0;
  }

  protected closeAfterResponse(s: TrackedSocket): void {
    const res = s[kResponse];
    if (res !== null && !res.headersSent) res.shouldKeepAlive = false; // Connection: close
  }

  protected destroy(s: TrackedSocket): void {
    s.destroy();
    for (const sniffed of this.sniffing) sniffed.destroy();
  }

  private readonly onConnection = (socket: Socket): void => {
    const s = socket as TrackedSocket;
    s[kInflight] = 0;
    s[kListener] = this;
    s[kResponse] = null;
    s[kRefused] = false;
    s[kRunning] = null;
    s[kWaiting] = [];
    this.track(s);
    s.once('close', () => this.forget(s));
  };

  private readonly handleRequest = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    const s = req.socket as TrackedSocket;
    s[kInflight]++;
    s[kResponse] = res;
    res.on('close', onResponseClose);
    if (this.closing) res.shouldKeepAlive = false;
    const refusal = checkRequestHead(req.method as string, req.url as string, req.httpVersionMajor, req.httpVersionMinor, req.rawHeaders, null);
    if (refusal !== null) {
      this.refuse(s, refusal.status, refusal.code, refusal.detail);
      return;
    }
    // Run it after this read is parsed: a malformed body later in the same bytes refuses the
    // connection first, so nothing of this request reaches the upstream. (Not nextTick: node:http
    // parses in C++ and runs the tick queue between its parser callbacks.)
    setImmediate(startRequest, this, new NodeHttpSession(req, res), s);
  };

  /** @internal Runs `session` now, or after the request running on its connection. */
  start(session: NodeHttpSession, s: TrackedSocket): void {
    if (s[kRefused] || s.destroyed) return;
    if (s[kRunning] !== null) {
      s[kWaiting].push(session);
      return;
    }
    s[kRunning] = session.res;
    this.onRequest(session);
  }

  /**
   * An `Upgrade` request or a `CONNECT`: node:http gave the socket up. Counted in flight until
   * the socket closes (a tunnel lives through graceful shutdown until its deadline).
   */
  private readonly onUpgrade = (req: http.IncomingMessage, socket: Socket, head: Buffer): void => {
    const s = socket as TrackedSocket;
    s[kInflight]++;
    if (s[kRunning] !== null || s[kRefused]) {
      // Pipelined behind a request still answered: node:http already gave the socket up, so it cannot wait.
      this.refuse(s, 400, 'PIPELINED_UPGRADE', 'an Upgrade or CONNECT request pipelined behind another request');
      return;
    }
    const refusal = checkRequestHead(req.method as string, req.url as string, req.httpVersionMajor, req.httpVersionMinor, req.rawHeaders, null);
    if (refusal !== null) {
      this.refuse(s, refusal.status, refusal.code, refusal.detail);
      return;
    }
    if (req.headers['transfer-encoding'] !== undefined) {
      // node:http leaves the body in the raw bytes; only a counted one is read out of them here.
      this.refuse(s, 400, 'CHUNKED_UPGRADE', 'a chunked body on an Upgrade or CONNECT request (the node:http path takes Content-Length bodies only)');
      return;
    }
    if (this.closing) {
      s.destroy();
      return;
    }
    this.onRequest(new NodeUpgradeSession(req, socket, head));
  };

  private readonly onClientError = (err: NodeJS.ErrnoException & { bytesParsed?: number; rawPacket?: Buffer }, socket: Socket): void => {
    const code = err.code ?? 'UNKNOWN';
    if (code === 'ECONNRESET' || !socket.writable) {
      this.logger.debug({ service: this.service, reason: code, client: socket.remoteAddress }, 'client connection error');
      socket.destroy();
      return;
    }
    let status = code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
    if (code === 'HPE_HEADER_OVERFLOW') {
      // Over the limit before the request line ended: the target is too long.
      const raw = err.rawPacket;
      const lf = raw === undefined ? 0 : raw.indexOf(10);
      status = lf < 0 || lf >= (err.bytesParsed ?? 0) ? 414 : 431;
    }
    this.refuse(socket as TrackedSocket, status, code, err.message);
  };

  /** Answers `status` with `Connection: close` (unless a response is under way), logs a warn line, closes. */
  private refuse(socket: TrackedSocket, status: number, code: string, detail: string): void {
    this.logRefusal(socket, status, code, detail);
    socket[kRefused] = true;
    const busy = socket[kRunning];
    if (busy !== null && busy !== undefined && busy.headersSent) {
      socket.destroy();
      return;
    }
    socket.end(refusalHead(status), 'latin1');
    setTimeout(destroySocket, 1000, socket).unref();
  }
}

function startRequest(listener: NodeHttpListener, session: NodeHttpSession, s: TrackedSocket): void {
  listener.start(session, s);
}

/** A response ended or its connection closed: when shutting down, close the now idle connection. */
function onResponseClose(this: http.ServerResponse): void {
  const s = this.req.socket as TrackedSocket | null;
  if (s === null) return;
  s[kInflight]--;
  if (s[kResponse] === this) s[kResponse] = null;
  if (s[kRunning] === this) {
    s[kRunning] = null;
    const next = s[kWaiting].shift();
    if (next !== undefined) s[kListener].start(next, s);
  }
  if (s[kInflight] === 0 && s[kListener].closing) closeSoon(s);
}

function destroySocket(socket: Socket): void {
  socket.destroy();
}

/** Ends our side once what is queued was written, then destroys the socket. */
function closeSoon(socket: Socket): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  socket.end();
  socket.once('finish', destroyThis);
}

function destroyThis(this: Socket): void {
  this.destroy();
}

/** See `serve`: makes node:http read a sniffed socket through its stream. */
function ignoreData(): void {}
