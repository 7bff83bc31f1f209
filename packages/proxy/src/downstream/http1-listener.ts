/**
 * What both HTTP/1.1 listeners (`LlhttpListener`, `NodeHttpListener`) share: serving on the
 * socket core opens, tracking connections, graceful shutdown (stop accepting, close idle
 * connections after a grace, let requests in flight finish, destroy what is left at the
 * deadline), and the refusal of a malformed request (its answer and its log line).
 * Subclasses say what a connection is, when it is idle, and how it is told to close.
 */
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { BoundAddress, Listener, Logger } from '@pingora-ts/core';
import type { DownstreamListener, OpenCoreListener } from './downstream-session';
import type { Http2Front, Http2FrontOwner } from './http2-front';

/**
 * On graceful shutdown, how long an idle keep-alive connection may still bring a request: a
 * client may be sending its next request right now, and a connection closed under it fails
 * that request. One that arrives meanwhile is answered with `Connection: close`.
 */
export const IDLE_GRACE_MS = 1000;

export abstract class Http1Listener<C> implements DownstreamListener, Http2FrontOwner {
  readonly addr: string;
  /** Set by `shutdown`: responses say `Connection: close`, new sockets are dropped. */
  closing = false;
  protected readonly conns = new Set<C>();
  /** Serves HTTP/2 connections (TLS ALPN `h2`, and h2c when `h2c`); null: HTTP/1.1 only. */
  http2: Http2Front | null = null;
  /** Cleartext connections starting with the HTTP/2 preface go to `http2`. */
  h2c = false;
  private core: Listener | null = null;
  private bound: BoundAddress | null = null;
  private closed: Promise<void> | null = null;
  private allClosed: (() => void) | null = null;

  constructor(
    addr: string,
    protected readonly logger: Logger,
    protected readonly service: string,
  ) {
    this.addr = addr;
  }

  get connections(): number {
    return this.conns.size + (this.http2?.connections ?? 0);
  }

  /** Hands HTTP/2 connections to `front`; with `h2c`, cleartext ones found by their preface too. */
  serveHttp2(front: Http2Front, h2c: boolean): void {
    this.http2 = front;
    this.h2c = h2c;
  }

  async listen(open: OpenCoreListener): Promise<void> {
    this.core = await open(this.accept);
    this.bound = this.core.address();
    this.http2?.start(this);
    this.started();
  }

  address(): BoundAddress | null {
    return this.bound;
  }

  /** Takes a connected socket (plain, or TLS after its handshake). */
  private readonly accept = (socket: Socket): void => {
    if (this.closing) socket.destroy();
    else if (this.http2 !== null && (socket as { alpnProtocol?: string | false }).alpnProtocol === 'h2') this.http2.take(socket, null);
    else this.serve(socket);
  };

  /** @internal An HTTP/2 connection closed. */
  h2Closed(): void {
    this.checkDrained();
  }

  /**
   * @internal A cleartext connection tracked as `conn` turned out to be h2c: `bytes` (read
   * already) go back to the socket, and the HTTP/2 side serves it from there.
   */
  handToHttp2(conn: C, socket: Socket, bytes: Buffer): void {
    const front = this.http2;
    if (front === null || this.closing) {
      socket.destroy();
      this.forget(conn);
      return;
    }
    front.take(socket, bytes);
    this.forget(conn);
  }

  shutdown(graceful: boolean, timeoutMs: number): Promise<void> {
    if (this.closed === null) {
      this.closing = true;
      const listening = this.core?.stopAccepting() ?? Promise.resolve();
      const drained = new Promise<void>((resolve) => {
        this.allClosed = resolve;
      });
      this.closed = Promise.all([listening, drained]).then(async () => {
        this.http2?.stop();
        this.stopped();
        await this.core?.close();
      });
      const timer = setTimeout(() => this.destroyAll(), graceful ? timeoutMs : 0);
      void this.closed.then(() => clearTimeout(timer));
      this.http2?.shutdown(graceful);
      if (graceful) {
        for (const c of this.conns) this.closeAfterResponse(c);
        setTimeout(closeIdle, Math.min(IDLE_GRACE_MS, timeoutMs), this).unref();
      } else {
        this.destroyAll();
      }
      this.checkDrained();
    } else if (!graceful) {
      this.destroyAll();
    }
    return this.closed;
  }

  /** @internal The warn line for a refused request (one shape for both listeners). */
  logRefusal(socket: Socket, status: number, code: string, detail: string): void {
    this.logger.warn(
      { service: this.service, reason: code, detail, status, client: socket.remoteAddress, clientPort: socket.remotePort },
      'malformed request from client',
    );
  }

  /** @internal Closes the connections without a request in flight (the idle grace ended). */
  closeIdle(): void {
    for (const c of this.conns) if (this.isIdle(c)) this.destroy(c);
    this.http2?.closeIdle();
  }

  /** Tracks a new connection. */
  protected track(conn: C): void {
    this.conns.add(conn);
  }

  /** A connection closed. */
  protected forget(conn: C): void {
    this.conns.delete(conn);
    this.checkDrained();
  }

  /** Serves HTTP/1.1 on a connected socket (and `track`s it). */
  protected abstract serve(socket: Socket): void;
  /** The listener serves now (start timers, checks). */
  protected abstract started(): void;
  /** Every connection closed after `shutdown` (stop timers). */
  protected abstract stopped(): void;
  /** No request is in flight on `conn`. */
  protected abstract isIdle(conn: C): boolean;
  /** `conn` closes after the response now under way (graceful shutdown). */
  protected abstract closeAfterResponse(conn: C): void;
  protected abstract destroy(conn: C): void;

  private destroyAll(): void {
    for (const c of this.conns) this.destroy(c);
    this.http2?.destroyAll();
  }

  private checkDrained(): void {
    if (this.allClosed !== null && this.conns.size === 0 && (this.http2 === null || this.http2.connections === 0)) {
      const done = this.allClosed;
      this.allClosed = null;
      done();
    }
  }
}

/** The whole answer to a refused request head: the status, `Connection: close`, no body. */
export function refusalHead(status: number): string {
  return `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`;
}

function closeIdle(listener: Http1Listener<unknown>): void {
  listener.closeIdle();
}
