/**
 * One downstream HTTP/1.1 listener on node:http: keep-alive, timeouts, header size limit,
 * connection tracking, malformed requests (4xx + a warn log line, only that connection
 * closed), and graceful shutdown (stop accepting, finish requests in flight, close idle
 * keep-alive connections, `Connection: close` on busy ones, force-close after a timeout).
 */
import * as http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { BoundAddress, Logger } from '@pingora-ts/core';

export interface Http1ListenerOptions {
  keepAliveTimeoutMs: number;
  headersTimeoutMs: number;
  requestTimeoutMs: number;
  maxHeaderSize: number;
}

type RequestHandler = (req: http.IncomingMessage, res: http.ServerResponse) => void;

const kInflight = Symbol('pingora-ts.inflight');
const kListener = Symbol('pingora-ts.listener');
const kResponse = Symbol('pingora-ts.response');

interface TrackedSocket extends Socket {
  /** Requests received and not yet answered on this connection. */
  [kInflight]: number;
  [kListener]: Http1Listener;
  /** The latest response on this connection. */
  [kResponse]: http.ServerResponse | null;
}

export class Http1Listener {
  readonly addr: string;
  private readonly target: { host: string; port: number } | { path: string };
  private readonly server: http.Server;
  private readonly sockets = new Set<TrackedSocket>();
  private closing = false;
  private closed: Promise<void> | null = null;
  private bound: BoundAddress | null = null;

  constructor(
    addr: string,
    opts: Http1ListenerOptions,
    private readonly onRequest: RequestHandler,
    private readonly logger: Logger,
    private readonly service: string,
  ) {
    this.addr = addr;
    this.target = parseListenAddr(addr);
    const server = http.createServer({ maxHeaderSize: opts.maxHeaderSize, noDelay: true });
    server.keepAliveTimeout = opts.keepAliveTimeoutMs;
    server.headersTimeout = opts.headersTimeoutMs;
    server.requestTimeout = opts.requestTimeoutMs;
    server.on('connection', this.onConnection);
    server.on('request', this.handleRequest);
    server.on('clientError', this.onClientError);
    this.server = server;
  }

  /** Whether `shutdown` was called. */
  isClosing(): boolean {
    return this.closing;
  }

  /** Open downstream connections. */
  get connections(): number {
    return this.sockets.size;
  }

  listen(): Promise<void> {
    const server = this.server;
    const target = this.target;
    return new Promise<void>((resolve, reject) => {
      const onError = (err: Error): void => reject(err);
      server.once('error', onError);
      const done = (): void => {
        server.removeListener('error', onError);
        server.on('error', (err) => this.logger.error({ err, service: this.service, listener: this.addr }, 'listener error'));
        const a = server.address();
        this.bound = typeof a === 'string' ? { kind: 'unix', path: a } : a === null ? null : tcpAddress(a);
        resolve();
      };
      if ('path' in target) server.listen(target.path, done);
      else server.listen(target.port, target.host, done);
    });
  }

  address(): BoundAddress | null {
    return this.bound;
  }

  /**
   * Stops the listener. Graceful: stop accepting, close idle connections now, let requests in
   * flight finish (their connections close after the response), destroy what is left after
   * `timeoutMs`. Not graceful: destroy every connection now. Idempotent.
   */
  shutdown(graceful: boolean, timeoutMs: number): Promise<void> {
    if (this.closed === null) {
      this.closing = true;
      this.closed = new Promise<void>((resolve) => {
        if (!this.server.listening) {
          resolve();
          return;
        }
        this.server.close(() => resolve());
      });
      const timer = setTimeout(() => this.destroyAll(), graceful ? timeoutMs : 0);
      void this.closed.then(() => clearTimeout(timer));
      for (const s of this.sockets) {
        if (!graceful || s[kInflight] === 0) {
          s.destroy();
        } else {
          const res = s[kResponse];
          if (res !== null && !res.headersSent) res.shouldKeepAlive = false; // Connection: close
        }
      }
    } else if (!graceful) {
      this.destroyAll();
    }
    return this.closed;
  }

  private destroyAll(): void {
    for (const s of this.sockets) s.destroy();
  }

  private readonly onConnection = (socket: Socket): void => {
    const s = socket as TrackedSocket;
    s[kInflight] = 0;
    s[kListener] = this;
    s[kResponse] = null;
    this.sockets.add(s);
    s.once('close', () => this.sockets.delete(s));
    if (this.closing) s.destroy();
  };

  private readonly handleRequest = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    const s = req.socket as TrackedSocket;
    s[kInflight]++;
    s[kResponse] = res;
    res.on('close', onResponseClose);
    if (this.closing) res.shouldKeepAlive = false;
    this.onRequest(req, res);
  };

  private readonly onClientError = (err: NodeJS.ErrnoException, socket: Socket): void => {
    const code = err.code ?? 'UNKNOWN';
    if (code === 'ECONNRESET' || !socket.writable) {
      this.logger.debug({ service: this.service, reason: code, client: socket.remoteAddress }, 'client connection error');
      socket.destroy();
      return;
    }
    const status = code === 'HPE_HEADER_OVERFLOW' ? 431 : code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
    this.logger.warn(
      { service: this.service, reason: code, detail: err.message, status, client: socket.remoteAddress, clientPort: socket.remotePort },
      'malformed request from client',
    );
    const busy = (socket as unknown as { _httpMessage?: http.ServerResponse | null })._httpMessage;
    if (busy !== undefined && busy !== null && busy.headersSent) {
      socket.destroy();
      return;
    }
    socket.end(`HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
    setTimeout(destroySocket, 1000, socket).unref();
  };
}

/** A response ended or its connection closed: when shutting down, close the now idle connection. */
function onResponseClose(this: http.ServerResponse): void {
  const s = this.req.socket as TrackedSocket | null;
  if (s === null) return;
  s[kInflight]--;
  if (s[kResponse] === this) s[kResponse] = null;
  if (s[kInflight] === 0 && s[kListener].isClosing()) (s as unknown as { destroySoon(): void }).destroySoon();
}

function destroySocket(socket: Socket): void {
  socket.destroy();
}

/** `"host:port"`, `"[v6]:port"` or a Unix socket path (starting with `/`). */
export function parseListenAddr(addr: string): { host: string; port: number } | { path: string } {
  if (addr.startsWith('/')) return { path: addr };
  let host: string;
  let port: string;
  if (addr.startsWith('[')) {
    const close = addr.indexOf(']');
    host = addr.slice(1, close);
    port = addr.slice(close + 2);
  } else {
    const colon = addr.lastIndexOf(':');
    host = addr.slice(0, colon);
    port = addr.slice(colon + 1);
  }
  const n = Number(port);
  if (host === '' || port === '' || !Number.isInteger(n) || n < 0 || n > 65535) {
    throw new TypeError(`invalid listener address "${addr}": expected "host:port", "[ipv6]:port" or a Unix socket path`);
  }
  return { host, port: n };
}

function tcpAddress(a: AddressInfo): BoundAddress {
  return { kind: 'tcp', host: a.address, port: a.port };
}
