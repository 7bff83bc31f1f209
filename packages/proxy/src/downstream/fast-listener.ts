/**
 * The fast downstream path's listener: its connections (`FastConnection`) parse with a lent llhttp parser and write responses themselves. It owns
 * what the connections share: the parser free list, the limits, one coarse sweep for every
 * timeout (no timer per connection or request), the `Keep-Alive` header line, the cached
 * `Date`, and graceful shutdown.
 *
 * Sockets come from a core `Listener` (a fresh bind, a worker's inherited socket, or one taken
 * over in an upgrade, plain or TLS after its handshake); `serve(socket)` takes each.
 */
import { STATUS_CODES } from 'node:http';
import type * as net from 'node:net';
import type { BoundAddress, Listener, Logger } from '@pingora-ts/core';
import type { Llhttp, RequestParserPool } from '@pingora-ts/core/internal';
import type { DownstreamLimits, DownstreamListener, OpenCoreListener, RequestHandler } from './downstream-io';
import { FastConnection } from './fast-connection';
import type { HeadFacts } from './request-checks';

/** On graceful shutdown, how long an idle keep-alive connection may still bring a request. */
const IDLE_GRACE_MS = 1000;

/** Shortest and longest sweep tick. */
const MIN_TICK_MS = 5;
const MAX_TICK_MS = 1000;

export class FastHttp1Listener implements DownstreamListener {
  readonly addr: string;
  readonly keepAliveTimeoutMs: number;
  readonly headersTimeoutMs: number;
  readonly requestTimeoutMs: number;
  /** How long a closing connection waits for the client to close first. */
  readonly lingerMs: number;
  /** `Connection: keep-alive` and `Keep-Alive: timeout=N` lines, built once. */
  readonly keepAliveLines: string;
  readonly parsers: RequestParserPool;
  /** Scratch space for `checkRequestHead` (one head is checked at a time). */
  readonly facts: HeadFacts = { hasBody: false, expectContinue: false, contentLength: -1 };
  /** Set by `shutdown`: responses say `Connection: close`. */
  closing = false;
  private readonly conns = new Set<FastConnection>();
  private core: Listener | null = null;
  private readonly tickMs: number;
  private sweepTimer: NodeJS.Timeout | null = null;
  private closed: Promise<void> | null = null;
  private allClosed: (() => void) | null = null;
  private bound: BoundAddress | null = null;
  private dateText = '';
  private dateAt = 0;

  constructor(
    addr: string,
    limits: DownstreamLimits,
    parser: Llhttp,
    readonly onRequest: RequestHandler,
    private readonly logger: Logger,
    private readonly service: string,
  ) {
    this.addr = addr;
    this.keepAliveTimeoutMs = limits.keepAliveTimeoutMs;
    this.headersTimeoutMs = limits.headersTimeoutMs;
    this.requestTimeoutMs = limits.requestTimeoutMs;
    this.parsers = parser.parserPool(limits.maxHeaderSize);
    const shortest = Math.min(limits.keepAliveTimeoutMs, limits.headersTimeoutMs, limits.requestTimeoutMs > 0 ? limits.requestTimeoutMs : Infinity);
    this.tickMs = Math.max(MIN_TICK_MS, Math.min(MAX_TICK_MS, Math.floor(shortest / 4)));
    this.lingerMs = Math.max(1000, this.tickMs);
    this.keepAliveLines = `Connection: keep-alive\r\nKeep-Alive: timeout=${Math.floor(limits.keepAliveTimeoutMs / 1000)}\r\n`;
  }

  get connections(): number {
    return this.conns.size;
  }

  async listen(open: OpenCoreListener): Promise<void> {
    this.core = await open(this.serve);
    this.bound = this.core.address();
    this.sweepTimer = setInterval(this.sweep, this.tickMs);
    this.sweepTimer.unref();
  }

  address(): BoundAddress | null {
    return this.bound;
  }

  /** Serves HTTP/1.1 on a connected socket. */
  readonly serve = (socket: net.Socket): void => {
    if (this.closing) {
      socket.destroy();
      return;
    }
    this.conns.add(new FastConnection(socket, this));
  };

  shutdown(graceful: boolean, timeoutMs: number): Promise<void> {
    if (this.closed === null) {
      this.closing = true;
      const listening = this.core?.stopAccepting() ?? Promise.resolve();
      const drained = new Promise<void>((resolve) => {
        this.allClosed = resolve;
      });
      this.closed = Promise.all([listening, drained]).then(async () => {
        if (this.sweepTimer !== null) clearInterval(this.sweepTimer);
        await this.core?.close();
      });
      const timer = setTimeout(() => this.destroyAll(), graceful ? timeoutMs : 0);
      void this.closed.then(() => clearTimeout(timer));
      if (graceful) for (const c of this.conns) c.shutdown(Math.min(IDLE_GRACE_MS, timeoutMs));
      else this.destroyAll();
      this.checkDrained();
    } else if (!graceful) {
      this.destroyAll();
    }
    return this.closed;
  }

  /** @internal A connection closed. */
  forget(conn: FastConnection): void {
    this.conns.delete(conn);
    this.checkDrained();
  }

  /** @internal The warn line for a refused request (the same fields as the node:http path). */
  logRefusal(conn: FastConnection, status: number, code: string, detail: string): void {
    const s = conn.socket;
    this.logger.warn({ service: this.service, reason: code, detail, status, client: s.remoteAddress, clientPort: s.remotePort }, 'malformed request from client');
  }

  /** @internal */
  statusText(status: number): string {
    return STATUS_CODES[status] ?? 'Error';
  }

  /** @internal An HTTP `Date` value, made at most once a second. */
  date(): string {
    const now = Date.now();
    if (now - this.dateAt >= 1000) {
      this.dateAt = now - (now % 1000);
      this.dateText = new Date(now).toUTCString();
    }
    return this.dateText;
  }

  private destroyAll(): void {
    for (const c of this.conns) c.socket.destroy();
  }

  private checkDrained(): void {
    if (this.allClosed !== null && this.conns.size === 0) {
      const done = this.allClosed;
      this.allClosed = null;
      done();
    }
  }

  private readonly sweep = (): void => {
    const now = Date.now();
    for (const c of this.conns) c.checkTimeout(now);
  };
}
