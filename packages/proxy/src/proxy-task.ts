/**
 * Runs one downstream request through the hooks (the order of `docs/phases.md`): the request
 * phases, the retry loop over `Attempt`s, `failToProxy` and `logging`. It talks to the client
 * only through a `DownstreamSession`, so it never asks which protocol it serves.
 *
 * A state machine, not an async function: a hook that returns a plain value continues the
 * request in the same call (no promise, no microtask); only a thenable (a hook's promise, a new
 * upstream connection) suspends it, and its settlement continues it (`wait`). Events from the
 * sessions (response head, body end, errors, the client going away) only record what
 * happened and `wake()` the task, which continues where it waits.
 */
import { ProxyError, type Logger } from '@pingora-ts/core';
import type { CacheHit, CacheStatus } from '@pingora-ts/cache';
import { Attempt } from './attempt';
import { BackgroundDownstream } from './cache/background-downstream';
import type { CacheFill } from './cache/cache-fill';
import { CachePhase, type BackgroundRefresh } from './cache/cache-phase';
import { CacheServe } from './cache/cache-serve';
import type { HttpCache } from './cache/http-cache';
import { publishRequest, publishRequestStart } from './diagnostics';
import { publishInternalError } from './internal-error-channel';
import type { DownstreamEvents, DownstreamSession } from './downstream/downstream-session';
import type { BoundBodyFilter, BoundTrailerFilter } from './hooks';
import { isThenable } from './is-thenable';
import type { FailToProxy, ProxyHttp } from './proxy-http';
import { Session } from './session';
import { RequestTrace } from './tracing/request-trace';
import type { UpstreamConnector } from './upstream/upstream-session';
import type { ProxyTracing } from './tracing/proxy-tracer';

/** What every request of one `HttpProxy` shares. */
export interface ProxyRuntime<Ctx> {
  readonly name: string;
  readonly hooks: Required<ProxyHttp<Ctx>>;
  readonly requestBodyFilter: BoundBodyFilter<Ctx> | null;
  readonly responseBodyFilter: BoundBodyFilter<Ctx> | null;
  readonly requestTrailerFilter: BoundTrailerFilter<Ctx> | null;
  readonly upstreamResponseTrailerFilter: BoundTrailerFilter<Ctx> | null;
  /** Opens upstream sessions (HTTP/1.1 over the pool). */
  readonly upstreams: UpstreamConnector;
  readonly maxRetries: number;
  /** Longest silence (no byte either way) a tunnel lives through; 0: none. */
  readonly tunnelIdleTimeoutMs: number;
  readonly logger: Logger;
  /** The HTTP cache, or null when the proxy does not cache. */
  readonly cache: HttpCache | null;
  /** Makes the request's spans; null (no tracing) until `HttpProxy.listen` decides (see `proxyTracing`). */
  tracing: ProxyTracing | null;
  /** Runs a background cache refresh (`stale-while-revalidate`) as a request of its own. */
  startBackground(downstream: DownstreamSession, refresh: BackgroundRefresh): void;
  /** The request finished (after `logging`). */
  taskDone(): void;
}

/** Methods whose request may be sent twice (RFC 9110 §9.2.2). */
const IDEMPOTENT: ReadonlySet<string> = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE']);

export class ProxyTask<Ctx> implements DownstreamEvents {
  readonly session: Session;
  /** @internal The attempts reach these. */
  readonly downstream: DownstreamSession;
  /** @internal */
  ctx!: Ctx;
  /** @internal Set when the downstream cannot go on (client gone, malformed or slow body); never cleared. */
  downstreamFailure: ProxyError | null = null;
  /** @internal The cache phases of this request; null when the proxy does not cache. */
  readonly cache: CachePhase<Ctx> | null;
  /** @internal The request's spans; null when the proxy does not trace. */
  readonly trace: RequestTrace | null;
  private attempt: Attempt<Ctx> | null = null;
  /** Answering from the cache (instead of an attempt). */
  private serving: CacheServe<Ctx> | null = null;
  private error: ProxyError | null = null;
  /** A hook's or a connect's thenable is pending: its settlement continues the task, a wake does not. */
  private pending = false;
  /** A step is running: events only record and set `woken`. */
  private stepping = false;
  private woken = false;

  constructor(
    readonly rt: ProxyRuntime<Ctx>,
    downstream: DownstreamSession,
    refresh: BackgroundRefresh | null = null,
  ) {
    this.downstream = downstream;
    this.session = new Session(downstream);
    this.cache = rt.cache === null ? null : new CachePhase(rt.cache, this, refresh);
    if (this.cache !== null) this.session.setCache(this.cache);
    const tracing = rt.tracing;
    this.trace = tracing === null ? null : new RequestTrace(tracing, downstream);
    if (this.trace !== null) this.session.setSpan(this.trace.span);
    downstream.setEvents(this);
  }

  /** Runs the request to its end (`logging`, then `taskDone`); never throws. */
  run(): void {
    publishRequestStart(this.rt.name, this.session);
    this.stepping = true;
    let r: void | Promise<void>;
    try {
      this.ctx = this.rt.hooks.newCtx();
      r = this.rt.hooks.earlyRequestFilter(this.session, this.ctx);
    } catch (err) {
      this.requestFailed(err);
      this.leave();
      return;
    }
    if (isThenable(r)) this.wait(r, this, this.afterEarlyRequestFilter, this.requestFailed);
    else this.afterEarlyRequestFilter();
    this.leave();
  }

  // Steps, in hook order. Each calls a hook, then its continuation directly when the hook
  // returned a plain value (a monomorphic call V8 can inline), or through `wait` for a thenable.

  private afterEarlyRequestFilter(): void {
    let r: boolean | Promise<boolean>;
    try {
      r = this.rt.hooks.requestFilter(this.session, this.ctx);
    } catch (err) {
      this.requestFailed(err);
      return;
    }
    if (isThenable(r)) this.wait(r, this, this.afterRequestFilter, this.requestFailed);
    else this.afterRequestFilter(r);
  }

  private afterRequestFilter(handled: boolean): void {
    const d = this.downstream;
    if (handled) {
      if (!d.headersSent && !d.gone) this.requestFailed(ProxyError.internal('InternalError', 'requestFilter returned true but sent no response'));
      else this.finish(null);
      return;
    }
    if (d.method === 'CONNECT') {
      let allowed: boolean | Promise<boolean>;
      try {
        allowed = this.rt.hooks.allowConnect(this.session, this.ctx);
      } catch (err) {
        this.requestFailed(err);
        return;
      }
      if (isThenable(allowed)) this.wait(allowed, this, this.afterAllowConnect, this.requestFailed);
      else this.afterAllowConnect(allowed);
      return;
    }
    if (this.cache !== null) this.cache.start();
    else this.proxyUpstream();
  }

  /** `CONNECT` is refused with 405 unless `allowConnect` said yes (as Pingora). */
  private afterAllowConnect(allowed: boolean): void {
    if (allowed === true) {
      this.proxyUpstream();
      return;
    }
    const d = this.downstream;
    try {
      if (!d.headersSent && !d.gone) d.respond(405, ['allow', 'GET, HEAD, POST, PUT, DELETE, OPTIONS, PATCH', 'connection', 'close'], undefined);
    } catch (err) {
      this.requestFailed(err);
      return;
    }
    this.finish(null);
  }

  /** @internal `proxyUpstreamFilter`, then the retry loop (also where the cache phases go on to the origin). */
  proxyUpstream(): void {
    let r: boolean | Promise<boolean>;
    try {
      r = this.rt.hooks.proxyUpstreamFilter(this.session, this.ctx);
    } catch (err) {
      this.requestFailed(err);
      return;
    }
    if (isThenable(r)) this.wait(r, this, this.afterProxyUpstreamFilter, this.requestFailed);
    else this.afterProxyUpstreamFilter(r);
  }

  private afterProxyUpstreamFilter(proxy: boolean): void {
    if (proxy) {
      this.startAttempt();
      return;
    }
    const d = this.downstream;
    try {
      if (!d.headersSent && !d.gone) d.respond(502, ['connection', 'close'], undefined);
    } catch (err) {
      this.requestFailed(err);
      return;
    }
    this.finish(null);
  }

  /** A new try, from a clean `Attempt`. */
  private startAttempt(): void {
    const attempt = new Attempt(this);
    this.attempt = attempt;
    this.trace?.startAttempt(this.session.retries);
    attempt.start();
  }

  /** @internal The current attempt failed for good: retry on a new one, or fail the request. */
  attemptFailed(err: ProxyError): void {
    this.trace?.endAttempt(err);
    if (!this.mayRetry(err, this.attempt as Attempt<Ctx>)) {
      this.requestFailed(err);
      return;
    }
    this.session.countRetry();
    this.rt.logger.debug(
      { service: this.rt.name, kind: err.kind, upstream: this.session.upstream?.address, retries: this.session.retries },
      'retrying request on another attempt',
    );
    this.startAttempt();
  }

  private mayRetry(err: ProxyError, a: Attempt<Ctx>): boolean {
    if (this.session.retries >= this.rt.maxRetries || this.downstreamFailure !== null || this.downstream.headersSent) return false;
    if (!err.canRetry(a.reused)) return false;
    if (a.bodyStarted) return false; // body bytes are gone, cannot replay
    // A request the peer never processed (RFC 9113 §8.7) is safe to send again, whatever its method.
    if (a.headWritten && !err.unprocessed && !IDEMPOTENT.has(this.downstream.method)) return false;
    return true;
  }

  /** @internal The request failed for good: `failToProxy` (or a stale response, `stale-if-error`), then `logging`. */
  requestFailed(err: unknown): void {
    const e = ProxyError.from(err);
    this.error = e;
    this.logFailure(e);
    this.attempt = null;
    this.serving = null;
    if (this.cache !== null && this.cache.serveStaleOnError(e)) return;
    let r: FailToProxy | Promise<FailToProxy>;
    try {
      r = this.rt.hooks.failToProxy(this.session, e, this.ctx);
    } catch (err2) {
      this.failToProxyThrew(err2);
      return;
    }
    if (isThenable(r)) this.wait(r, this, this.afterFailToProxy, this.failToProxyThrew);
    else this.afterFailToProxy();
  }

  private afterFailToProxy(): void {
    this.finish(this.error);
  }

  private failToProxyThrew(err: unknown): void {
    this.rt.logger.error({ err, service: this.rt.name, method: this.session.method, path: this.session.path }, 'failToProxy hook threw');
    publishInternalError(this.rt.name, 'failToProxy', err, this.session);
    this.downstream.destroy();
    this.finish(this.error);
  }

  /** @internal `logging`, last and once. */
  finish(error: ProxyError | null): void {
    this.attempt = null;
    this.serving = null;
    this.cache?.done();
    this.error = error;
    this.trace?.end(this.downstream.status, error);
    let r: void | Promise<void>;
    try {
      r = this.rt.hooks.logging(this.session, error, this.ctx);
    } catch (err) {
      this.loggingThrew(err);
      return;
    }
    if (isThenable(r)) this.wait(r, this, this.done, this.loggingThrew);
    else this.done();
  }

  private loggingThrew(err: unknown): void {
    this.rt.logger.error({ err, service: this.rt.name, method: this.session.method, path: this.session.path }, 'logging hook threw');
    publishInternalError(this.rt.name, 'logging', err, this.session);
    this.done();
  }

  private done(): void {
    publishRequest(this.rt.name, this.session, this.error);
    this.rt.taskDone();
  }

  // The step runner: the one place that handles re-entrancy.
  //
  // Steps call into the sessions (write a head, start a body, abort), and a session may call
  // back synchronously from inside such a call: a body end delivered at once by `readBody`, a
  // connection error raised while writing, the client closing during `respond`. Steps also
  // end inside session callbacks (a flow ending the response). So an event never runs a step
  // itself: it records what happened (on the `Attempt`) and calls `wake()`; a running step is
  // never re-entered, and the event is handled by `leave()` once that step returned. Body
  // chunks do not come through here: `BodyFlow` moves them between the sessions directly.

  /** @internal Suspends the task until `r` settles, then continues with `next` (or `failed`) on `owner`. */
  wait<O, T>(r: PromiseLike<T>, owner: O, next: (this: O, value: T) => void, failed: (this: O, err: unknown) => void): void {
    this.pending = true;
    r.then(
      (v) => this.resumeWith(owner, next, v),
      (err: unknown) => this.resumeWith(owner, failed, err),
    );
  }

  private resumeWith<O, T>(owner: O, step: (this: O, value: T) => void, value: T): void {
    this.pending = false;
    this.stepping = true;
    try {
      step.call(owner, value);
    } catch (err) {
      // A bug in the task itself: end the request rather than leave it hanging.
      this.rt.logger.error({ err, service: this.rt.name, method: this.session.method, path: this.session.path }, 'proxy task failed');
      publishInternalError(this.rt.name, 'task', err, this.session);
      this.downstream.destroy();
    }
    this.leave();
  }

  /** @internal An event happened: continue where the task waits (after the running step, if any). */
  wake(): void {
    this.woken = true;
    if (this.stepping) return;
    this.stepping = true;
    this.leave();
  }

  /** Ends a step: handles the events it raised, then lets events wake the task directly again. */
  private leave(): void {
    while (this.woken) {
      this.woken = false;
      if (!this.pending) (this.serving ?? this.attempt)?.onWake();
    }
    this.stepping = false;
  }

  // DownstreamEvents

  onDownstreamDrain(): void {
    (this.serving ?? this.attempt)?.downstreamDrained();
  }

  onDownstreamError(err: ProxyError): void {
    this.downstreamFailure ??= err;
    (this.serving ?? this.attempt)?.fail(err);
  }

  // The cache phases (`CachePhase`) continue the request through these.

  /** @internal Answers from the cache: a hit, or the entry this request fills. */
  serveFromCache(hit: CacheHit, status: CacheStatus, statusHeader: string | null): void {
    this.attempt = null;
    const serve = new CacheServe(this, hit, status, statusHeader);
    this.serving = serve;
    serve.start();
  }

  /** @internal The cache let the upstream response through: `responseFilter`, then to the client (`headOnly`: without its body). */
  passResponse(headOnly: boolean): void {
    this.attempt?.passResponse(headOnly);
  }

  /**
   * @internal The upstream body goes to the cache (`fill`) or nowhere (null: a 304, or an error
   * answered stale), and the client is to be served from the cache. `false` when the attempt
   * failed meanwhile: it goes on as a failure (`errorWhileProxy`), and the cache serves nothing.
   */
  divertResponse(fill: CacheFill | null): boolean {
    const a = this.attempt;
    if (a === null) return false;
    if (!a.divertResponse(fill)) return false;
    this.attempt = null;
    return true;
  }

  /** @internal A cache step on the response failed: the attempt fails (`errorWhileProxy`, maybe a retry). */
  responseStepFailed(err: unknown): void {
    this.attempt?.responseStepFailed(err);
  }

  /** @internal */
  startBackgroundRefresh(refresh: BackgroundRefresh): void {
    this.rt.startBackground(new BackgroundDownstream(this.downstream), refresh);
  }

  private logFailure(e: ProxyError): void {
    const s = this.session;
    const fields: Record<string, unknown> = {
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
    if (e.kind === 'ClientGone') {
      this.rt.logger.debug(fields, 'client went away');
    } else if (e.source === 'internal') {
      // A hook threw or rejected (or a bug): the stack says where.
      const cause = e.cause instanceof Error ? e.cause : e;
      fields.stack = cause.stack;
      this.rt.logger.error(fields, 'proxy request failed');
      publishInternalError(this.rt.name, 'request', cause, s);
    } else {
      this.rt.logger.warn(fields, 'proxy request failed');
    }
  }
}
