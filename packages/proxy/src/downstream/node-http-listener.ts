/**
 * The node:http downstream path (the fallback when llhttp's internal binding is unavailable,
 * or `downstream: 'node:http'`): keep-alive, timeouts, header size limit, connection tracking,
 * malformed requests (4xx + a warn log line, only that connection closed), pipelined requests
 * run one at a time (node:http would run them together), and graceful shutdown (stop
 * accepting, finish requests in flight, close idle keep-alive connections, `Connection: close`
 * on busy ones, force-close after a timeout).
 */
import * as http from 'node:http';
import type { Socket } from 'node:net';
import type { BoundAddress, Listener, Logger } from '@pingora-ts/core';
import type { DownstreamLimits, DownstreamListener, OpenCoreListener, RequestHandler } from './downstream-session';

import { NodeHttpSession } from './node-http-session';
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

/** On graceful shutdown, how long an idle keep-alive connection may still bring a request. */
const IDLE_GRACE_MS = 1000;

export class NodeHttpListener implements DownstreamListener {
  readonly addr: string;
  private readonly server: http.Server;
  private readonly sockets = new Set<TrackedSocket>();
  private closing = false;
  private closed: Promise<void> | null = null;
  private bound: BoundAddress | null = null;
  private core: Listener | null = null;
  /** Resolves `drained` once the last connection closes during shutdown. */
  private allClosed: (() => void) | null = null;

  constructor(
    addr: string,
    limits: DownstreamLimits,
    private readonly onRequest: RequestHandler,
    private readonly logger: Logger,
    private readonly service: string,
  ) {
    this.addr = addr;
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
    server.on('checkExpectation', this.handleRequest); // an Expect other than 100-continue: refused like the fast path
    server.on('clientError', this.onClientError);
    server.on('connect', this.onConnect);
    this.server = server;
  }

  /** Whether `shutdown` was called. */
  isClosing(): boolean {
    return this.closing;
  }

  get connections(): number {
    return this.sockets.size;
  }

  /** The http.Server never listens itself: core accepts, and each socket is handed to it. */
  async listen(open: OpenCoreListener): Promise<void> {
    this.core = await open((socket) => this.server.emit('connection', socket));
    this.bound = this.core.address();
    // node:http starts its headers/request timeout checks on 'listening' (Node 20, 22 and 24
    // register setupConnectionsTracking for it); our server is fed sockets instead, so say it.
    this.server.emit('listening');
  }

  address(): BoundAddress | null {
    return this.bound;
  }

  shutdown(graceful: boolean, timeoutMs: number): Promise<void> {
    if (this.closed === null) {
      this.closing = true;
      const drained = new Promise<void>((resolve) => {
        this.allClosed = resolve;
      });
      this.closed = Promise.all([this.core?.stopAccepting(), drained]).then(async () => {
        this.server.close(() => {}); // stops node:http's connection checks (it never listened: the error is expected)
        await this.core?.close();
      });
      const timer = setTimeout(() => this.destroyAll(), graceful ? timeoutMs : 0);
      void this.closed.then(() => clearTimeout(timer));
      if (!graceful) this.destroyAll();
      for (const s of this.sockets) {
        const res = s[kResponse];
        if (res !== null && !res.headersSent) res.shouldKeepAlive = false; // Connection: close
      }
      // Idle keep-alive connections close after a grace, not at once: a client may be sending
      // its next request right now (answered with Connection: close meanwhile).
      if (graceful) {
        setTimeout(() => {
          for (const s of this.sockets) if (s[kInflight] === 0) s.destroy();
        }, Math.min(IDLE_GRACE_MS, timeoutMs)).unref();
      }
      this.checkDrained();
    } else if (!graceful) {
      this.destroyAll();
    }
    return this.closed;
  }

  private checkDrained(): void {
    if (this.allClosed !== null && this.sockets.size === 0) {
      const done = this.allClosed;
      this.allClosed = null;
      done();
    }
  }

  private destroyAll(): void {
    for (const s of this.sockets) s.destroy();
  }

  private readonly onConnection = (socket: Socket): void => {
    const s = socket as TrackedSocket;
    s[kInflight] = 0;
    s[kListener] = this;
    s[kResponse] = null;
    s[kRefused] = false;
    s[kRunning] = null;
    s[kWaiting] = [];
    this.sockets.add(s);
    s.once('close', () => {
      this.sockets.delete(s);
      this.checkDrained();
    });
    if (this.closing) s.destroy();
  };

  private readonly handleRequest = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    const s = req.socket as TrackedSocket;
    s[kInflight]++;
    s[kResponse] = res;
    res.on('close', onResponseClose);
    if (this.closing) res.shouldKeepAlive = false;
    const refusal = checkRequestHead(req.method as string, req.httpVersionMajor, req.httpVersionMinor, req.rawHeaders, null);
    if (refusal !== null) {
      this.refuse(s, refusal.status, refusal.code, refusal.detail);
      return;
    }
    // Run it after this read is parsed: a malformed body later in the same bytes refuses the
    // connection first, so nothing of this request reaches the upstream. (Not nextTick: node:http
    // parses in C++ and runs the tick queue between its parser callbacks.)
    setImmediate(startRequest, this, new NodeHttpSession(req, res), s);
  };

  /** @internal Runs `io` now, or after the request running on its connection. */
  start(io: NodeHttpSession, s: TrackedSocket): void {
    if (s[kRefused] || s.destroyed) return;
    if (s[kRunning] !== null) {
      s[kWaiting].push(io);
      return;
    }
    s[kRunning] = io.res;
    this.onRequest(io);
  }

  private readonly onConnect = (req: http.IncomingMessage, socket: Socket): void => {
    this.refuse(socket as TrackedSocket, 501, 'CONNECT_NOT_SUPPORTED', `CONNECT ${req.url ?? ''} is not supported`);
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
    this.logger.warn(
      { service: this.service, reason: code, detail, status, client: socket.remoteAddress, clientPort: socket.remotePort },
      'malformed request from client',
    );
    socket[kRefused] = true;
    const busy = (socket as unknown as { _httpMessage?: http.ServerResponse | null })._httpMessage;
    if (busy !== undefined && busy !== null && busy.headersSent) {
      socket.destroy();
      return;
    }
    socket.end(`HTTP/1.1 ${status} ${http.STATUS_CODES[status] ?? 'Error'}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
    setTimeout(destroySocket, 1000, socket).unref();
  }
}

function startRequest(listener: NodeHttpListener, io: NodeHttpSession, s: TrackedSocket): void {
  listener.start(io, s);
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
  if (s[kInflight] === 0 && s[kListener].isClosing()) (s as unknown as { destroySoon(): void }).destroySoon();
}

function destroySocket(socket: Socket): void {
  socket.destroy();
}
