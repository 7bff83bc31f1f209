/**
 * One try at the upstream (the retry loop's body in `docs/phases.md`): `upstreamPeer`, connect
 * (or reuse), `connectedToUpstream`, `upstreamRequestFilter`, the request head and body, the
 * response head through `upstreamResponseFilter` and `responseFilter`, and the response body.
 * Everything one try learns lives here, so a retry is a new `Attempt` and starts clean.
 *
 * It talks to both sides only through the session interfaces (`DownstreamSession`,
 * `UpstreamSession`); each body goes through a `BodyFlow`. A protocol switch (a `101` to an
 * `Upgrade` request, or an allowed `CONNECT`) ends HTTP: both sessions give up their sockets
 * (`takeSocket`) to a `Tunnel`, and the try ends when the tunnel does. Its steps run inside the task's
 * step runner (`ProxyTask.wait` / `wake`), which is where re-entrancy is handled.
 */
import { ProxyError } from '@pingora-ts/core';
import type { CacheFill } from './cache/cache-fill';
import { asksProtocolSwitch } from './downstream/request-checks';
import type { BodySink } from './flow/body-sink';
import { publishUpstreamConnection } from './diagnostics';
import { BodyFlow, type ChunkFilter, type FlowOwner, type TrailerFilter } from './flow/body-flow';
import { Tunnel, type TunnelOwner } from './flow/tunnel';
import { forwardRequestHeaders, forwardResponseHeaders, switchingResponseHeaders, upstreamFraming, type RequestBodyInfo } from './forwarding';
import type { HttpPeer } from './http-peer';
import { grpcTimeoutMs } from './grpc-timeout';
import { isThenable } from './is-thenable';
import type { ProxyTask } from './proxy-task';
import { RequestHeader } from './request-header';
import { ResponseHeader } from './response-header';
import type { UpstreamEvents, UpstreamSession } from './upstream/upstream-session';

/** Nothing to continue on a wake (a hook or connect is pending, or the attempt is over). */
const WAIT_NONE = 0;
/** The request went upstream; the response head (or a failure) comes next. */
const WAIT_HEAD = 1;
/** The response head went downstream; the body's end (or a failure) comes next. */
const WAIT_BODY = 2;
/** A `101` went downstream; the tunnel starts once the request body is all upstream. */
const WAIT_TUNNEL = 3;

/** Where the body of a response the cache answers for goes (a 304, an error served stale). */
const DISCARD: BodySink = { onBodyChunk() {}, onBodyEnd() {} };

export class Attempt<Ctx> implements UpstreamEvents, FlowOwner, RequestBodyInfo, TunnelOwner {
  /** From `RequestBodyInfo`: the downstream request has a body. */
  hasBody = false;
  /** From `RequestBodyInfo`: the request asks for a protocol switch (its `Upgrade` value). */
  upgrade: string | null = null;
  /** The connection was reused from the pool. */
  reused = false;
  /** The request head was written upstream (a non-idempotent request is not sent twice). */
  headWritten = false;
  private waiting = WAIT_NONE;
  private peer: HttpPeer | null = null;
  private upstream: UpstreamSession | null = null;
  private request: RequestHeader | null = null;
  private response: ResponseHeader | null = null;
  private requestFlow: BodyFlow | null = null;
  /** The downstream is handing its body to `requestFlow` (stop it when the attempt ends early). */
  private readingBody = false;
  private responseFlow: BodyFlow | null = null;
  /** The response was ended downstream. */
  private completed = false;
  private failure: ProxyError | null = null;
  /** The upstream answered `101 Switching Protocols`: HTTP is over on its connection. */
  private switched = false;
  private tunnel: Tunnel | null = null;
  /** The response body went to the cache (`divertResponse`): the client is served elsewhere. */
  private diverted = false;
  private fill: CacheFill | null = null;
  /** Only the response head goes downstream; the upstream body is not read (`passResponse`). */
  private headOnly = false;

  constructor(private readonly task: ProxyTask<Ctx>) {}

  /** Body bytes were taken from the downstream: the request cannot be replayed. */
  get bodyStarted(): boolean {
    return this.requestFlow !== null && this.requestFlow.started;
  }

  /** Starts the try with `upstreamPeer`. */
  start(): void {
    const t = this.task;
    let peer: HttpPeer | Promise<HttpPeer>;
    try {
      peer = t.rt.hooks.upstreamPeer(t.session, t.ctx);
    } catch (err) {
      t.attemptFailed(ProxyError.from(err));
      return;
    }
    if (isThenable(peer)) t.wait(peer, this, this.afterUpstreamPeer, this.upstreamPeerFailed);
    else this.afterUpstreamPeer(peer);
  }

  private upstreamPeerFailed(err: unknown): void {
    this.task.attemptFailed(ProxyError.from(err));
  }

  private afterUpstreamPeer(peer: HttpPeer): void {
    const t = this.task;
    if (peer === null || typeof peer !== 'object' || typeof peer.address !== 'string' || typeof peer.options !== 'object') {
      t.attemptFailed(ProxyError.from(new TypeError('upstreamPeer must return an HttpPeer')));
      return;
    }
    this.peer = peer;
    t.session.setUpstream(peer.address);
    t.trace?.attemptPeer(peer);
    if (t.downstreamFailure !== null) {
      t.attemptFailed(t.downstreamFailure);
      return;
    }
    if (peer.protocol !== 'h1' && (t.downstream.method === 'CONNECT' || asksProtocolSwitch(t.downstream.rawHeaders))) {
      // A tunnel needs a connection of its own to give up; an HTTP/2 stream has none.
      const e = new ProxyError(`${t.downstream.method === 'CONNECT' ? 'CONNECT' : 'an Upgrade request'} needs an HTTP/1.1 upstream; ${peer.address} is asked for alpn ${peer.protocol}`, { kind: 'ConnectError', source: 'internal', retry: false });
      this.connectFailed(e);
      return;
    }
    const idle = t.rt.upstreams.reuse(peer);
    if (idle !== null) this.connected(idle);
    else t.wait(t.rt.upstreams.connect(peer), this, this.connected, this.connectFailed);
  }

  private connectFailed(err: unknown): void {
    const t = this.task;
    const e = ProxyError.from(err, { kind: 'ConnectError', source: 'upstream' });
    let out: ProxyError;
    try {
      out = t.rt.hooks.failToConnect(t.session, this.peer as HttpPeer, t.ctx, e);
    } catch (err2) {
      out = ProxyError.from(err2);
    }
    t.attemptFailed(out);
  }

  private connected(upstream: UpstreamSession): void {
    const t = this.task;
    this.reused = upstream.reused;
    t.session.setUpstreamReused(upstream.reused);
    publishUpstreamConnection(t.rt.name, (this.peer as HttpPeer).address, upstream.reused);
    if (t.downstreamFailure !== null) {
      upstream.release();
      t.attemptFailed(t.downstreamFailure);
      return;
    }
    this.upstream = upstream;
    let r: void | Promise<void>;
    try {
      r = t.rt.hooks.connectedToUpstream(t.session, upstream.reused, this.peer as HttpPeer, t.ctx);
    } catch (err) {
      this.upstreamFailed(err);
      return;
    }
    if (isThenable(r)) t.wait(r, this, this.afterConnectedToUpstream, this.upstreamFailed);
    else this.afterConnectedToUpstream();
  }

  private afterConnectedToUpstream(): void {
    const t = this.task;
    const d = t.downstream;
    if (d.method === 'CONNECT') {
      // Allowed by `allowConnect`: no request goes upstream; the client hears 200, then the tunnel.
      this.connectTunnel();
      return;
    }
    const request = new RequestHeader(d.method, d.target, forwardRequestHeaders(d.rawHeaders, t.session.clientAddr, d.scheme, this));
    if (d.unframedBody) this.hasBody = true;
    request.readTimeoutMs = grpcTimeoutMs(d.rawHeaders);
    t.cache?.upstreamRequest(request);
    t.trace?.inject(request, this.peer as HttpPeer);
    this.request = request;
    let r: void | Promise<void>;
    try {
      r = t.rt.hooks.upstreamRequestFilter(t.session, request, t.ctx);
    } catch (err) {
      this.upstreamFailed(err);
      return;
    }
    if (isThenable(r)) t.wait(r, this, this.sendRequest, this.upstreamFailed);
    else this.sendRequest();
  }

  private sendRequest(): void {
    const t = this.task;
    const failure = this.failure ?? t.downstreamFailure;
    if (failure !== null) {
      this.upstreamFailed(failure);
      return;
    }
    const upstream = this.upstream as UpstreamSession;
    const request = this.request as RequestHeader;
    try {
      const framing = upstreamFraming(request.headers, this.hasBody, (this.peer as HttpPeer).address);
      upstream.writeHead(request, framing, this, this.upgrade !== null);
      this.headWritten = true;
      this.waiting = WAIT_HEAD;
      if (framing !== 'none') {
        const flow = new BodyFlow(t.downstream, upstream, bindFilter(t, t.rt.requestBodyFilter), this, bindTrailers(t, t.rt.requestTrailerFilter));
        this.requestFlow = flow;
        this.readingBody = true;
        t.downstream.readBody(flow);
      }
    } catch (err) {
      this.waiting = WAIT_NONE;
      this.upstreamFailed(err);
    }
  }

  /** The response head arrived (see `onResponseHead`). */
  private afterResponseHead(): void {
    const t = this.task;
    this.waiting = WAIT_NONE;
    let r: void | Promise<void>;
    try {
      r = t.rt.hooks.upstreamResponseFilter(t.session, this.response as ResponseHeader, t.ctx);
    } catch (err) {
      this.upstreamFailed(err);
      return;
    }
    if (isThenable(r)) t.wait(r, this, this.afterUpstreamResponseFilter, this.upstreamFailed);
    else this.afterUpstreamResponseFilter();
  }

  private afterUpstreamResponseFilter(): void {
    const cache = this.task.cache;
    // The cache phases decide (`responseCacheFilter`): `passResponse` or `divertResponse` follows.
    if (cache !== null && !this.switched && this.failure === null) cache.responseArrived(this.response as ResponseHeader);
    else this.passResponse(false);
  }

  /**
   * @internal `responseFilter`, then the head goes downstream and the body follows; with
   * `headOnly` (a HEAD the cache fetched as a GET and does not store) the body is not read.
   */
  passResponse(headOnly: boolean): void {
    this.headOnly = headOnly;
    const t = this.task;
    let r: void | Promise<void>;
    try {
      r = t.rt.hooks.responseFilter(t.session, this.response as ResponseHeader, t.ctx);
    } catch (err) {
      this.upstreamFailed(err);
      return;
    }
    if (isThenable(r)) t.wait(r, this, this.writeResponseHead, this.upstreamFailed);
    else this.writeResponseHead();
  }

  private writeResponseHead(): void {
    if (this.failure !== null) {
      this.upstreamFailed(this.failure);
      return;
    }
    const t = this.task;
    const d = t.downstream;
    const response = this.response as ResponseHeader;
    // A filter turned the upstream's 101 into something else: its connection is of no use, the client gets the head alone.
    const refusedSwitch = this.switched && response.status !== 101;
    if (refusedSwitch) d.closeAfterResponse();
    try {
      d.writeHead(response.status, response.reason, response.headers.raw);
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
    if (refusedSwitch || this.headOnly) {
      // The head alone: the upstream connection goes (a HEAD the cache fetched as a GET: rather
      // than read a body nobody wants to its end).
      this.abandon();
      this.waiting = WAIT_BODY;
      this.completed = true;
      d.end(null);
      t.wake();
      return;
    }
    if (this.switched) {
      this.startTunnel();
      return;
    }
    this.waiting = WAIT_BODY;
    const upstream = this.upstream as UpstreamSession;
    const flow = new BodyFlow(upstream, d, bindFilter(t, t.rt.responseBodyFilter), this, bindTrailers(t, t.rt.upstreamResponseTrailerFilter));
    this.responseFlow = flow;
    upstream.readBody(flow);
    // No body byte went with the head yet: send it soon (streaming responses).
    if (!this.completed && this.failure === null && d.bytesSent === 0) d.flushHead();
  }

  /**
   * The `101` went downstream: both sockets go to a tunnel, once the request body (if the
   * upgrade request had one: forwarded, as nginx does) is all upstream.
   */
  private startTunnel(): void {
    if (this.readingBody) {
      this.waiting = WAIT_TUNNEL;
      return;
    }
    this.waiting = WAIT_BODY;
    this.joinTunnel();
  }

  /** An allowed `CONNECT`: answer `200 Connection Established` and tunnel to the peer. */
  private connectTunnel(): void {
    const d = this.task.downstream;
    try {
      d.writeHead(200, 'Connection Established', []);
    } catch (err) {
      this.upstreamFailed(err);
      return;
    }
    this.waiting = WAIT_BODY;
    this.joinTunnel();
  }

  /** Both sessions give up their sockets to a new `Tunnel`; the try ends when it does. */
  private joinTunnel(): void {
    const t = this.task;
    const d = t.downstream;
    const upstream = this.upstream as UpstreamSession;
    if (d.takeSocket === undefined || upstream.takeSocket === undefined) {
      this.upstreamFailed(ProxyError.internal('InternalError', 'this protocol cannot switch to a tunnel'));
      return;
    }
    try {
      const client = d.takeSocket();
      const server = upstream.takeSocket();
      this.upstream = null;
      this.tunnel = new Tunnel(client, server, t.rt.tunnelIdleTimeoutMs, this);
    } catch (err) {
      this.upstreamFailed(err);
      return;
    }
    t.session.setTunnel(this.tunnel);
  }

  /**
   * @internal The cache answers the client instead: the response body goes into `fill` (or is
   * read and dropped), and the upstream connection returns to the pool when it ends. The task
   * no longer reaches this attempt; only upstream events do, for the fill.
   */
  divertResponse(fill: CacheFill | null): boolean {
    const upstream = this.upstream;
    if (this.failure !== null || upstream === null) {
      // The try failed while the cache decided (the client went away, the upstream broke).
      this.upstreamFailed(this.failure ?? ProxyError.internal('InternalError', 'the upstream session is gone'));
      return false;
    }
    this.waiting = WAIT_NONE;
    this.diverted = true;
    this.fill = fill;
    if (fill !== null) fill.setSource(upstream);
    upstream.readBody(fill ?? DISCARD);
    return true;
  }

  /** @internal A cache step on the response failed. */
  responseStepFailed(err: unknown): void {
    this.upstreamFailed(err);
  }

  /** The try failed after the connection was made: `errorWhileProxy` decides what the task sees. */
  private upstreamFailed(err: unknown): void {
    const t = this.task;
    this.waiting = WAIT_NONE;
    const e = ProxyError.from(err);
    this.abandon();
    let out: ProxyError;
    try {
      out = t.rt.hooks.errorWhileProxy(this.peer as HttpPeer, t.session, e, t.ctx, this.reused);
    } catch (err2) {
      out = ProxyError.from(err2);
    }
    t.attemptFailed(out);
  }

  /** Called by the task's step runner after an event woke it: continues where the try waits. */
  onWake(): void {
    switch (this.waiting) {
      case WAIT_HEAD:
        if (this.failure !== null) this.upstreamFailed(this.failure);
        else if (this.response !== null) this.afterResponseHead();
        break;
      case WAIT_TUNNEL:
        if (this.failure !== null) this.upstreamFailed(this.failure);
        else if (!this.readingBody) this.startTunnel();
        break;
      case WAIT_BODY:
        if (this.failure !== null) this.upstreamFailed(this.failure);
        else if (this.completed) {
          this.waiting = WAIT_NONE;
          this.task.finish(null);
        }
        break;
      default:
        break;
    }
  }

  /** The try cannot go on (client gone, upstream failed, a body filter threw). */
  fail(err: ProxyError): void {
    this.abandon();
    this.failure ??= err;
    this.task.wake();
  }

  /** The downstream can take more of the response. */
  downstreamDrained(): void {
    this.responseFlow?.onTargetDrain();
  }

  // UpstreamEvents

  onResponseHead(status: number, reason: string, rawHeaders: string[]): void {
    this.switched = status === 101;
    this.task.trace?.upstreamResponded(status);
    this.response = new ResponseHeader(status, reason, this.switched ? switchingResponseHeaders(rawHeaders) : forwardResponseHeaders(rawHeaders));
    this.task.wake();
  }

  onResponseComplete(): void {
    // Answered before the whole request body was sent: read and drop the rest (keep-alive).
    this.stopRequestBody(true);
  }

  onUpstreamError(err: ProxyError): void {
    if (this.diverted) {
      // Mid-fill: the fill is discarded (readers get an error); the client's request is not ours any more.
      this.fill?.fail(err);
      return;
    }
    this.fail(err);
  }

  onUpstreamDrain(): void {
    this.requestFlow?.onTargetDrain();
  }

  // FlowOwner

  onFlowEnd(flow: BodyFlow): void {
    if (flow === this.requestFlow) {
      this.readingBody = false;
      if (this.waiting === WAIT_TUNNEL) this.task.wake();
      return;
    }
    this.completed = true;
    this.task.wake();
  }

  onFlowError(_flow: BodyFlow, err: unknown): void {
    this.fail(ProxyError.from(err));
  }

  // TunnelOwner

  onTunnelEnd(): void {
    this.tunnel = null;
    this.completed = true;
    this.task.wake();
  }

  /** Gives up the upstream side: the session is aborted, both bodies stop (the request body is kept for a retry). */
  private abandon(): void {
    const upstream = this.upstream;
    this.upstream = null;
    upstream?.abort();
    this.tunnel?.destroy();
    this.stopRequestBody(false);
    this.responseFlow?.stop();
  }

  /** The downstream stops handing its body over: `discard` reads and drops the rest, else leaves it unread. */
  private stopRequestBody(discard: boolean): void {
    if (!this.readingBody) return;
    this.readingBody = false;
    (this.requestFlow as BodyFlow).stop();
    this.task.downstream.stopBody(discard);
  }
}

/** A body filter bound to the request's session and ctx, or null when the app has none. */
function bindFilter<Ctx>(t: ProxyTask<Ctx>, filter: ProxyTask<Ctx>['rt']['requestBodyFilter']): ChunkFilter | null {
  if (filter === null) return null;
  const session = t.session;
  const ctx = t.ctx;
  return (chunk, end) => filter(session, chunk, end, ctx);
}

/** A trailer filter bound to the request's session and ctx, or null when the app has none. */
function bindTrailers<Ctx>(t: ProxyTask<Ctx>, filter: ProxyTask<Ctx>['rt']['requestTrailerFilter']): TrailerFilter | null {
  if (filter === null) return null;
  const session = t.session;
  const ctx = t.ctx;
  return (trailers) => filter(session, trailers, ctx);
}
