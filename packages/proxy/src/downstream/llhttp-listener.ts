/**
 * The llhttp path's listener: its connections (`LlhttpConnection`) parse with a lent llhttp
 * parser and write responses themselves. Besides what `Http1Listener` shares with the node:http
 * path, it owns what its connections share: the parser free list, the limits, one coarse sweep
 * for every timeout (no timer per connection or request), the `Keep-Alive` header line and the
 * cached `Date`.
 */
import type * as net from 'node:net';
import type { Logger } from '@pingora-ts/core';
import type { Llhttp, RequestParserPool } from '@pingora-ts/core/internal';
import type { DownstreamLimits, RequestHandler } from './downstream-session';
import { Http1Listener } from './http1-listener';
import { LlhttpConnection } from './llhttp-connection';
import type { HeadFacts } from './request-checks';

/** Shortest and longest sweep tick. */
const MIN_TICK_MS = 5;
const MAX_TICK_MS = 1000;

export class LlhttpListener extends Http1Listener<LlhttpConnection> {
  readonly keepAliveTimeoutMs: number;
  readonly headersTimeoutMs: number;
  readonly requestTimeoutMs: number;
  /** How long a closing connection waits for the client to close first. */
  readonly lingerMs: number;
  /** `Connection: keep-alive` and `Keep-Alive: timeout=N` lines, built once. */
  readonly keepAliveLines: string;
  readonly parsers: RequestParserPool;
  /** Scratch space for `checkRequestHead` (one head is checked at a time). */
  readonly facts: HeadFacts = { hasBody: false, expectContinue: false, contentLength: -1, upgrade: false };
  private readonly tickMs: number;
  private sweepTimer: NodeJS.Timeout | null = null;
  private dateText = '';
  private dateAt = 0;

  constructor(
    addr: string,
    limits: DownstreamLimits,
    parser: Llhttp,
    readonly onRequest: RequestHandler,
    logger: Logger,
    service: string,
  ) {
    super(addr, logger, service);
    this.keepAliveTimeoutMs = limits.keepAliveTimeoutMs;
    this.headersTimeoutMs = limits.headersTimeoutMs;
    this.requestTimeoutMs = limits.requestTimeoutMs;
    this.parsers = parser.parserPool(limits.maxHeaderSize);
    const shortest = Math.min(limits.keepAliveTimeoutMs, limits.headersTimeoutMs, limits.requestTimeoutMs > 0 ? limits.requestTimeoutMs : Infinity);
    this.tickMs = Math.max(MIN_TICK_MS, Math.min(MAX_TICK_MS, Math.floor(shortest / 4)));
    this.lingerMs = Math.max(1000, this.tickMs);
    this.keepAliveLines = `Connection: keep-alive\r\nKeep-Alive: timeout=${Math.floor(limits.keepAliveTimeoutMs / 1000)}\r\n`;
  }

  protected serve(socket: net.Socket): void {
    this.track(new LlhttpConnection(socket, this));
  }

  protected started(): void {
    this.sweepTimer = setInterval(this.sweep, this.tickMs);
    this.sweepTimer.unref();
  }

  protected stopped(): void {
    if (this.sweepTimer !== null) clearInterval(this.sweepTimer);
  }

  protected isIdle(conn: LlhttpConnection): boolean {
    return conn.idle;
  }

  protected closeAfterResponse(conn: LlhttpConnection): void {
    conn.closeAfterCurrent = true;
  }

  protected destroy(conn: LlhttpConnection): void {
    conn.socket.destroy();
  }

  /** @internal A connection closed. */
  closedConnection(conn: LlhttpConnection): void {
    this.forget(conn);
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

  private readonly sweep = (): void => {
    const now = Date.now();
    for (const c of this.conns) c.checkTimeout(now);
  };
}
