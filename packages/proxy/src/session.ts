/**
 * One downstream request as the hooks see it (Pingora's `Session`): what was asked, who asked,
 * what has been answered so far, and which upstream was tried. Logging hooks can print
 * everything they need from it: method, path, status, bytes, duration, upstream, reuse.
 */
import type { IncomingHttpHeaders, IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { Span } from '@opentelemetry/api';
import type { SessionCache } from './cache/cache-phase';
import type { DownstreamSession } from './downstream/downstream-session';

/** The last upstream attempt. */
export interface UpstreamInfo {
  /** The peer address, `"host:port"`. */
  readonly address: string;
  /** The request went over a connection reused from the pool. */
  readonly reused: boolean;
}

/** What a tunnel moved (see `Session.tunnel`). */
export interface TunnelInfo {
  /** Bytes from the client to the upstream (after the switch). */
  readonly bytesUp: number;
  /** Bytes from the upstream to the client (after the switch). */
  readonly bytesDown: number;
  /**
   * `'closed'`: both sides closed in turn; `'reset'`: one side reset or errored (the other was
   * destroyed); `'idle-timeout'`: no byte moved for `tunnelIdleTimeoutMs`; `'destroyed'`: the
   * proxy ended it (shutdown, the request failed). Final once `logging` runs.
   */
  readonly reason: 'closed' | 'reset' | 'idle-timeout' | 'destroyed';
}

/** The raw node:http objects, for what the session does not cover. */
export interface DownstreamAccess {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
}

export class Session {
  /** When the request arrived (`process.hrtime.bigint()`, nanoseconds). */
  readonly startTime: bigint;
  /** @internal */
  readonly downstreamSession: DownstreamSession;
  private _upstream: { address: string; reused: boolean } | null = null;
  private _tunnel: TunnelInfo | null = null;
  private _retries = 0;
  private _clientAddr: string | null = null;
  private _cache: SessionCache | null = null;
  private _span: Span | null = null;

  /** @internal Made by the proxy for every request. */
  constructor(downstreamSession: DownstreamSession) {
    this.downstreamSession = downstreamSession;
    this.startTime = process.hrtime.bigint();
  }

  /** Request method, e.g. `GET`. */
  get method(): string {
    return this.downstreamSession.method;
  }

  /**
   * The request target in origin-form: path and query as received. An absolute-form target
   * (`GET http://a.example/x`) arrives here as `/x`, with its authority as the `Host` header
   * (RFC 9112 §3.2.2); `OPTIONS *` as `*`.
   */
  get path(): string {
    return this.downstreamSession.target;
  }

  /** Downstream request headers, names lower-cased (read-only view; built on first use). */
  get headers(): Readonly<IncomingHttpHeaders> {
    return this.downstreamSession.headers;
  }

  /** Downstream request headers as received: `[name, value, …]`. */
  get rawHeaders(): readonly string[] {
    return this.downstreamSession.rawHeaders;
  }

  /** `'1.1'` or `'1.0'`. */
  get httpVersion(): string {
    return this.downstreamSession.httpVersion;
  }

  /** The client's IP address. */
  get clientAddr(): string {
    return (this._clientAddr ??= this.downstreamSession.clientIp());
  }

  get clientPort(): number {
    return this.downstreamSession.clientPort();
  }

  /** Status sent downstream; 0 until a response head was sent. */
  get status(): number {
    return this.downstreamSession.status;
  }

  /** Response body bytes sent downstream. */
  get bytesSent(): number {
    return this.downstreamSession.bytesSent;
  }

  /** Whether a response head was already sent downstream. */
  get headersSent(): boolean {
    return this.downstreamSession.headersSent;
  }

  /** The last upstream tried, or `null` before `upstreamPeer` returned. */
  get upstream(): UpstreamInfo | null {
    return this._upstream;
  }

  /** Attempts after the first one (see the retry loop in `docs/phases.md`). */
  get retries(): number {
    return this._retries;
  }

  /** Milliseconds since the request arrived. */
  durationMs(): number {
    return Number(process.hrtime.bigint() - this.startTime) / 1e6;
  }

  /**
   * The node:http request and response, for advanced use; writing to them bypasses the
   * counters. Only with the HttpProxy option `downstream: 'node:http'`: the fast path has no
   * node:http objects, and this throws a `TypeError` there.
   */
  get downstream(): DownstreamAccess {
    return this.downstreamSession.access;
  }

  /**
   * Sends a whole response downstream (for `requestFilter` and friends, which then return
   * `true`). `Content-Length` is set from `body`. Throws when a response head was already sent.
   */
  respond(status: number, headers?: OutgoingHttpHeaders | readonly string[], body?: string | Uint8Array): void {
    this.downstreamSession.respond(status, headers, body);
  }

  /**
   * The HTTP cache's view of this request (its status for logs, its key, the defaults of the
   * cache hooks); null when the proxy has no cache.
   */
  get cache(): SessionCache | null {
    return this._cache;
  }

  /** @internal */
  setCache(cache: SessionCache): void {
    this._cache = cache;
  }

  /**
   * The request's OpenTelemetry SERVER span (see docs/tracing.md), or null when the proxy does
   * not trace. Its `spanContext().traceId` names the trace in logs; hooks may add attributes, or
   * parent spans of their own on it (`trace.setSpan(context.active(), session.span)`). It ends
   * before `logging` runs.
   */
  get span(): Span | null {
    return this._span;
  }

  /** @internal */
  setSpan(span: Span): void {
    this._span = span;
  }

  /** @internal */
  setUpstream(address: string): void {
    this._upstream = { address, reused: false };
  }

  /** @internal */
  setUpstreamReused(reused: boolean): void {
    if (this._upstream !== null) this._upstream.reused = reused;
  }

  /** @internal */
  countRetry(): void {
    this._retries++;
  }

  /**
   * After a protocol switch (a WebSocket or other `Upgrade` answered `101`, or an allowed
   * `CONNECT`): the bytes the tunnel moved each way and why it ended (read it in `logging`);
   * null for a plain request.
   */
  get tunnel(): TunnelInfo | null {
    return this._tunnel;
  }

  /** @internal */
  setTunnel(tunnel: TunnelInfo): void {
    this._tunnel = tunnel;
  }
}
