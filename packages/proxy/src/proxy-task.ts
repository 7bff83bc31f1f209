/**
 * Runs one downstream request through the hooks (the order of `docs/phases.md`) and moves its
 * bytes: request head and body upstream, response head and body downstream, with backpressure
 * both ways. The I/O itself lives in the `DownstreamIo` and the pool's `HttpConnection`.
 *
 * A state machine, not an async function: a hook that returns a plain value continues the
 * request in the same call (no promise, no microtask); only a hook that returns a promise, a
 * new upstream connection, or I/O suspends it. Events from the connections (response head,
 * end, errors, the client going away) only record what happened and `wake()` the task, which
 * continues where it waits; an event raised from inside a step of the task (a synchronous
 * callback) is handled once that step returned, so no step is ever re-entered.
 */
import { ProxyError, type Logger } from '@pingora-ts/core';
import type { ConnectionPool, HttpConnection, ResponseHandler } from '@pingora-ts/pool';
import { publishRequest } from './diagnostics';
import type { DownstreamEvents, DownstreamIo } from './downstream/downstream-io';
import { forwardRequestHeaders, forwardResponseHeaders, upstreamFraming, type RequestBodyInfo } from './forwarding';
import type { BoundBodyFilter } from './hooks';
import type { HttpPeer } from './http-peer';
import type { BodyFilterResult, FailToProxy, ProxyHttp } from './proxy-http';
import { RequestHeader } from './request-header';
import { ResponseHeader } from './response-header';
import { Session } from './session';
import { RequestBodyPump, type PumpOwner } from './upstream/request-body-pump';
import { requestOptions } from './upstream/request-options';

/** What every request of one `HttpProxy` shares. */
export interface ProxyRuntime<Ctx> {
  readonly name: string;
  readonly hooks: Required<ProxyHttp<Ctx>>;
  readonly requestBodyFilter: BoundBodyFilter<Ctx> | null;
  readonly responseBodyFilter: BoundBodyFilter<Ctx> | null;
  readonly pool: ConnectionPool;
  readonly maxRetries: number;
  readonly logger: Logger;
  /** The request finished (after `logging`). */
  taskDone(): void;
}

/** Methods whose request may be sent twice (RFC 9110 §9.2.2). */
const IDEMPOTENT: ReadonlySet<string> = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE']);

/** What the task waits for; `wake()` continues from there. */
const WAIT_NONE = 0;
/** A hook's promise, `upstreamPeer`'s, or a new connection: its settlement continues the task. */
const WAIT_ASYNC = 1;
/** The request went upstream; the response head (or a failure) comes next. */
const WAIT_HEAD = 2;
/** The response head went downstream; the body's end (or a failure) comes next. */
const WAIT_BODY = 3;

/** A continuation: a method of the task taking the settled value. */
type Step<Ctx, T> = (this: ProxyTask<Ctx>, value: T) => void;

export class ProxyTask<Ctx> implements ResponseHandler, DownstreamEvents, PumpOwner, RequestBodyInfo {
  readonly session: Session;
  /** From `RequestBodyInfo`: the downstream request has a body. */
  hasBody = false;
  private readonly io: DownstreamIo;
  private ctx!: Ctx;
  /** Set when the downstream cannot go on (client gone, malformed or slow body); never cleared. */
  private downstreamFailure: ProxyError | null = null;
  private error: ProxyError | null = null;
  private waiting = WAIT_NONE;
  /** A step of the task is running: events only record and `wake` later. */
  private stepping = false;
  private woken = false;
  // one attempt
  private peer: HttpPeer | null = null;
  private conn: HttpConnection | null = null;
  private request: RequestHeader | null = null;
  private pump: RequestBodyPump | null = null;
  private response: ResponseHeader | null = null;
  private failure: ProxyError | null = null;
  private upstreamEnded = false;
  private forwarding = false;
  private completed = false;
  private waitingDrain = false;
  private filterBusy = false;
  private endPending = false;
  private headWritten = false;
  private reused = false;

  constructor(
    private readonly rt: ProxyRuntime<Ctx>,
    io: DownstreamIo,
  ) {
    this.io = io;
    this.session = new Session(io);
    io.setEvents(this);
  }

  /** Runs the request to its end (`logging`, then `taskDone`); never throws. */
  run(): void {
    this.stepping = true;
    let r: void | Promise<void>;
    try {
      this.ctx = this.rt.hooks.newCtx();
      r = this.rt.hooks.earlyRequestFilter(this.session, this.ctx);
    } catch (err) {
      r = undefined;
      this.requestFailed(err);
      this.leave();
      return;
    }
    if (isThenable(r)) this.wait(r, this.afterEarlyRequestFilter, this.requestFailed);
    else this.afterEarlyRequestFilter();
    this.leave();
  }

  // Steps, in hook order. Each calls a hook, then its continuation directly when the hook
  // returned a plain value (a monomorphic call V8 can inline), or through `wait` for a promise.

  private afterEarlyRequestFilter(): void {
    let r: boolean | Promise<boolean>;
    try {
      r = this.rt.hooks.requestFilter(this.session, this.ctx);
    } catch (err) {
      this.requestFailed(err);
      return;
    }
    if (isThenable(r)) this.wait(r, this.afterRequestFilter, this.requestFailed);
    else this.afterRequestFilter(r);
  }

  private afterRequestFilter(handled: boolean): void {
    if (handled) {
      if (!this.io.headersSent && !this.io.gone) {
        this.requestFailed(ProxyError.internal('InternalError', 'requestFilter returned true but sent no response'));
      } else {
        this.finish(null);
      }
      return;
    }
    let r: boolean | Promise<boolean>;
    try {
      r = this.rt.hooks.proxyUpstreamFilter(this.session, this.ctx);
    } catch (err) {
      this.requestFailed(err);
      return;
    }
    if (isThenable(r)) this.wait(r, this.afterProxyUpstreamFilter, this.requestFailed);
    else this.afterProxyUpstreamFilter(r);
  }

  private afterProxyUpstreamFilter(proxy: boolean): void {
    if (!proxy) {
      try {
        if (!this.io.headersSent && !this.io.gone) this.io.respond(502, ['connection', 'close'], undefined);
      } catch (err) {
        this.requestFailed(err);
        return;
      }
      this.finish(null);
      return;
    }
    this.attempt();
  }

  private attempt(): void {
    this.resetAttempt();
    let peer: HttpPeer | Promise<HttpPeer>;
    try {
      peer = this.rt.hooks.upstreamPeer(this.session, this.ctx);
    } catch (err) {
      this.attemptFailed(ProxyError.from(err));
      return;
    }
    if (isThenable(peer)) this.wait(peer, this.afterUpstreamPeer, this.upstreamPeerFailed);
    else this.afterUpstreamPeer(peer);
  }

  private upstreamPeerFailed(err: unknown): void {
    this.attemptFailed(ProxyError.from(err));
  }

  private afterUpstreamPeer(peer: HttpPeer): void {
    if (peer === null || typeof peer !== 'object' || typeof peer.address !== 'string' || typeof peer.options !== 'object') {
      this.attemptFailed(ProxyError.from(new TypeError('upstreamPeer must return an HttpPeer')));
      return;
    }
    this.peer = peer;
    this.session.setUpstream(peer.address);
    if (this.downstreamFailure !== null) {
      this.attemptFailed(this.downstreamFailure);
      return;
    }
    const pool = this.rt.pool;
    const idle = pool.acquireIdle(peer);
    if (idle !== null) {
      this.connected(idle);
      return;
    }
    this.waiting = WAIT_ASYNC;
    pool.acquire(peer).then(
      (conn) => this.resumeWith(this.connected, conn),
      (err: unknown) => this.resumeWith(this.connectFailed, err),
    );
  }

  private connectFailed(err: unknown): void {
    const e = ProxyError.from(err, { kind: 'ConnectError', source: 'upstream' });
    let out: ProxyError;
    try {
      out = this.rt.hooks.failToConnect(this.session, this.peer as HttpPeer, this.ctx, e);
    } catch (err2) {
      out = ProxyError.from(err2);
    }
    this.attemptFailed(out);
  }

  private connected(conn: HttpConnection): void {
    this.reused = conn.reused;
    this.session.setUpstreamReused(conn.reused);
    if (this.downstreamFailure !== null) {
      this.rt.pool.release(conn);
      this.attemptFailed(this.downstreamFailure);
      return;
    }
    this.conn = conn;
    let r: void | Promise<void>;
    try {
      r = this.rt.hooks.connectedToUpstream(this.session, conn.reused, this.peer as HttpPeer, this.ctx);
    } catch (err) {
      this.upstreamFailed(err);
      return;
    }
    if (isThenable(r)) this.wait(r, this.afterConnectedToUpstream, this.upstreamFailed);
    else this.afterConnectedToUpstream();
  }

  private afterConnectedToUpstream(): void {
    const io = this.io;
    const request = new RequestHeader(io.method, io.target, forwardRequestHeaders(io.rawHeaders, this.session.clientAddr, 'http', this));
    this.request = request;
    let r: void | Promise<void>;
    try {
      r = this.rt.hooks.upstreamRequestFilter(this.session, request, this.ctx);
    } catch (err) {
      this.upstreamFailed(err);
      return;
    }
    if (isThenable(r)) this.wait(r, this.sendRequest, this.upstreamFailed);
    else this.sendRequest();
  }

  private sendRequest(): void {
    const failure = this.failure ?? this.downstreamFailure;
    if (failure !== null) {
      this.upstreamFailed(failure);
      return;
    }
    const conn = this.conn as HttpConnection;
    const peer = this.peer as HttpPeer;
    const request = this.request as RequestHeader;
    try {
      const framing = upstreamFraming(request.headers, this.hasBody, peer.address);
      conn.request(request.method, request.path, request.headers.raw, this, requestOptions(peer, framing));
      this.headWritten = true;
      this.waiting = WAIT_HEAD;
      if (framing !== 'none') {
        const f = this.rt.requestBodyFilter;
        const s = this.session;
        const ctx = this.ctx;
        this.pump = new RequestBodyPump(this.io, conn, f === null ? null : (chunk, end) => f(s, chunk, end, ctx), this);
        this.pump.start();
      }
    } catch (err) {
      this.waiting = WAIT_NONE;
      this.upstreamFailed(err);
    }
  }

  /** The response head arrived (see `onResponseHead`). */
  private afterResponseHead(): void {
    this.waiting = WAIT_NONE;
    let r: void | Promise<void>;
    try {
      r = this.rt.hooks.upstreamResponseFilter(this.session, this.response as ResponseHeader, this.ctx);
    } catch (err) {
      this.upstreamFailed(err);
      return;
    }
    if (isThenable(r)) this.wait(r, this.afterUpstreamResponseFilter, this.upstreamFailed);
    else this.afterUpstreamResponseFilter();
  }

  private afterUpstreamResponseFilter(): void {
    let r: void | Promise<void>;
    try {
      r = this.rt.hooks.responseFilter(this.session, this.response as ResponseHeader, this.ctx);
    } catch (err) {
      this.upstreamFailed(err);
      return;
    }
    if (isThenable(r)) this.wait(r, this.writeResponseHead, this.upstreamFailed);
    else this.writeResponseHead();
  }

  private writeResponseHead(): void {
    if (this.failure !== null) {
      this.upstreamFailed(this.failure);
      return;
    }
    const response = this.response as ResponseHeader;
    try {
      this.io.writeHead(response.status, response.reason, response.headers.raw);
    } catch (err) {
      this.upstreamFailed(
        new ProxyError(`response head not valid for downstream: ${(err as Error).message}`, {
          kind: 'InvalidHTTPResponse',
          source: 'upstream',
          cause: err,
          context: (this.peer as HttpPeer).address,
        }),
      );
      return;
    }
    this.forwarding = true;
    this.waiting = WAIT_BODY;
    if (this.upstreamEnded) {
      this.endDownstream();
    } else {
      this.conn?.resume();
      // No body byte went with the head yet: send it soon (streaming responses).
      if (!this.completed && this.failure === null && this.io.bytesSent === 0) this.io.flushHead();
    }
  }

  private attemptSucceeded(): void {
    this.waiting = WAIT_NONE;
    this.finish(null);
  }

  /** An attempt failed after the connection was made. */
  private upstreamFailed(err: unknown): void {
    this.waiting = WAIT_NONE;
    const e = ProxyError.from(err);
    this.dropConnection();
    let out: ProxyError;
    try {
      out = this.rt.hooks.errorWhileProxy(this.peer as HttpPeer, this.session, e, this.ctx, this.reused);
    } catch (err2) {
      out = ProxyError.from(err2);
    }
    this.attemptFailed(out);
  }

  private attemptFailed(err: ProxyError): void {
    this.waiting = WAIT_NONE;
    if (!this.mayRetry(err)) {
      this.requestFailed(err);
      return;
    }
    this.session.countRetry();
    this.rt.logger.debug(
      { service: this.rt.name, kind: err.kind, upstream: this.session.upstream?.address, retries: this.session.retries },
      'retrying request on another attempt',
    );
    this.attempt();
  }

  private mayRetry(err: ProxyError): boolean {
    if (this.session.retries >= this.rt.maxRetries || this.downstreamFailure !== null || this.io.headersSent) return false;
    if (!err.canRetry(this.reused)) return false;
    if (this.pump !== null && this.pump.started) return false; // body bytes are gone, cannot replay
    if (this.headWritten && !IDEMPOTENT.has(this.io.method)) return false;
    return true;
  }

  /** The request failed for good: `failToProxy`, then `logging`. */
  private requestFailed(err: unknown): void {
    const e = ProxyError.from(err);
    this.error = e;
    this.logFailure(e);
    let r: FailToProxy | Promise<FailToProxy>;
    try {
      r = this.rt.hooks.failToProxy(this.session, e, this.ctx);
    } catch (err2) {
      this.failToProxyThrew(err2);
      return;
    }
    if (isThenable(r)) this.wait(r, this.afterFailToProxy, this.failToProxyThrew);
    else this.afterFailToProxy();
  }

  private afterFailToProxy(): void {
    this.finish(this.error);
  }

  private failToProxyThrew(err: unknown): void {
    this.rt.logger.error({ err, service: this.rt.name }, 'failToProxy hook threw');
    this.io.destroy();
    this.finish(this.error);
  }

  /** `logging`, last and once. */
  private finish(error: ProxyError | null): void {
    this.error = error;
    let r: void | Promise<void>;
    try {
      r = this.rt.hooks.logging(this.session, error, this.ctx);
    } catch (err) {
      this.loggingThrew(err);
      return;
    }
    if (isThenable(r)) this.wait(r, this.done, this.loggingThrew);
    else this.done();
  }

  private loggingThrew(err: unknown): void {
    this.rt.logger.error({ err, service: this.rt.name }, 'logging hook threw');
    this.done();
  }

  private done(): void {
    publishRequest(this.rt.name, this.session, this.error);
    this.rt.taskDone();
  }

  // Continuation plumbing

  /** Suspends the task until `r` settles, then continues with `next(value)` (or `failed(reason)`). */
  private wait<T>(r: PromiseLike<T>, next: Step<Ctx, T>, failed: Step<Ctx, unknown>): void {
    this.waiting = WAIT_ASYNC;
    r.then(
      (v) => this.resumeWith(next, v),
      (err: unknown) => this.resumeWith(failed, err),
    );
  }

  /** Continues the task after an asynchronous step settled. */
  private resumeWith<T>(step: Step<Ctx, T>, value: T): void {
    this.waiting = WAIT_NONE;
    this.stepping = true;
    try {
      step.call(this, value);
    } catch (err) {
      // A bug in the task itself: end the request rather than leave it hanging.
      this.rt.logger.error({ err, service: this.rt.name }, 'proxy task failed');
      this.io.destroy();
    }
    this.leave();
  }

  /** An event happened: continue where the task waits (after the running step, if any). */
  private wake(): void {
    if (this.stepping) {
      this.woken = true;
      return;
    }
    this.stepping = true;
    this.woken = true;
    this.leave();
  }

  /** Ends a step: handles the events it raised, then lets events wake the task directly again. */
  private leave(): void {
    while (this.woken) {
      this.woken = false;
      switch (this.waiting) {
        case WAIT_HEAD:
          if (this.failure !== null) this.upstreamFailed(this.failure);
          else if (this.response !== null) this.afterResponseHead();
          break;
        case WAIT_BODY:
          if (this.failure !== null) this.upstreamFailed(this.failure);
          else if (this.completed) this.attemptSucceeded();
          break;
        default:
          break; // WAIT_ASYNC: the settlement continues; WAIT_NONE: nothing waits
      }
    }
    this.stepping = false;
  }

  // ResponseHandler (from the upstream connection)

  onResponseHead(status: number, reason: string, rawHeaders: string[]): void {
    this.response = new ResponseHeader(status, reason, forwardResponseHeaders(rawHeaders));
    this.conn?.pause(); // until the response hooks ran and the head went downstream
    this.wake();
  }

  onResponseData(chunk: Buffer): void {
    if (this.rt.responseBodyFilter === null) this.sendDown(chunk);
    else this.filterChunk(chunk, false);
  }

  onResponseEnd(): void {
    const conn = this.conn;
    this.conn = null;
    if (this.pump !== null && !this.pump.done) this.pump.stop(true);
    if (conn !== null) this.rt.pool.release(conn);
    this.upstreamEnded = true;
    if (this.forwarding) this.endDownstream();
    else this.wake();
  }

  onResponseError(err: ProxyError): void {
    this.fail(err);
  }

  onRequestDrain(): void {
    this.pump?.onUpstreamDrain();
  }

  // PumpOwner

  onRequestBodyError(err: unknown): void {
    this.fail(ProxyError.from(err));
  }

  // DownstreamEvents

  onDownstreamDrain(): void {
    if (!this.waitingDrain) return;
    this.waitingDrain = false;
    if (!this.filterBusy) this.conn?.resume();
  }

  onDownstreamError(err: ProxyError): void {
    this.downstreamFailure ??= err;
    this.fail(err);
  }

  /** The attempt cannot go on: abandon the upstream side and let the task take the failure. */
  private fail(err: ProxyError): void {
    this.dropConnection();
    this.failure ??= err;
    this.wake();
  }

  private sendDown(chunk: Buffer): void {
    if (chunk.length === 0) return;
    if (!this.io.write(chunk)) {
      this.waitingDrain = true;
      this.conn?.pause();
    }
  }

  private filterChunk(chunk: Buffer | null, end: boolean): void {
    let out: BodyFilterResult | Promise<BodyFilterResult>;
    try {
      out = (this.rt.responseBodyFilter as BoundBodyFilter<Ctx>)(this.session, chunk, end, this.ctx);
    } catch (err) {
      this.fail(ProxyError.from(err));
      return;
    }
    if (out instanceof Promise) {
      this.filterBusy = true;
      this.conn?.pause();
      out.then(
        (r) => this.afterFilter(r, chunk, end),
        (err: unknown) => this.fail(ProxyError.from(err)),
      );
      return;
    }
    this.afterFilter(out, chunk, end);
  }

  private afterFilter(out: BodyFilterResult, chunk: Buffer | null, end: boolean): void {
    const wasBusy = this.filterBusy;
    this.filterBusy = false;
    if (this.failure !== null || this.completed) return;
    const data = out === undefined ? chunk : out;
    if (data !== null && data !== undefined) this.sendDown(data);
    if (end) {
      this.finishDownstream();
    } else if (this.endPending) {
      this.endPending = false;
      this.endDownstream();
    } else if (wasBusy && !this.waitingDrain) {
      this.conn?.resume();
    }
  }

  private endDownstream(): void {
    if (this.filterBusy) {
      this.endPending = true;
      return;
    }
    if (this.rt.responseBodyFilter !== null) {
      this.filterChunk(null, true);
      return;
    }
    this.finishDownstream();
  }

  private finishDownstream(): void {
    this.completed = true;
    this.io.end();
    this.wake();
  }

  /** Abandons the upstream side of the current attempt (connection destroyed, body pump stopped). */
  private dropConnection(): void {
    const conn = this.conn;
    this.conn = null;
    if (conn !== null) {
      conn.abort();
      this.rt.pool.release(conn);
    }
    this.pump?.stop(false);
  }

  private resetAttempt(): void {
    this.peer = null;
    this.conn = null;
    this.request = null;
    this.pump = null;
    this.response = null;
    this.failure = null;
    this.upstreamEnded = false;
    this.forwarding = false;
    this.completed = false;
    this.waitingDrain = false;
    this.filterBusy = false;
    this.endPending = false;
    this.headWritten = false;
    this.reused = false;
  }

  private logFailure(e: ProxyError): void {
    const s = this.session;
    const fields = {
      service: this.rt.name,
      kind: e.kind,
      source: e.source,
      status: e.status,
      method: s.method,
      path: s.path,
      client: s.clientAddr,
      upstream: s.upstream === null ? null : s.upstream.address,
      retries: s.retries,
      err: e.message,
    };
    if (e.kind === 'ClientGone') this.rt.logger.debug(fields, 'client went away');
    else if (e.source === 'internal') this.rt.logger.error(fields, 'proxy request failed');
    else this.rt.logger.warn(fields, 'proxy request failed');
  }
}

/** A promise or any other thenable a hook may return. */
function isThenable<T>(r: T | PromiseLike<T>): r is PromiseLike<T> {
  return typeof r === 'object' && r !== null && typeof (r as { then?: unknown }).then === 'function';
}
