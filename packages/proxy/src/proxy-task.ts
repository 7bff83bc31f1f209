/**
 * Runs one downstream request through the hooks (the order of `docs/phases.md`) and moves its
 * bytes: request head and body upstream, response head and body downstream, with backpressure
 * both ways. The I/O itself lives in `Downstream` and the pool's `HttpConnection`.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ProxyError, type Logger } from '@pingora-ts/core';
import type { ConnectionPool, HttpConnection, ResponseHandler } from '@pingora-ts/pool';
import { publishRequest } from './diagnostics';
import { Downstream, type DrainListener } from './downstream/downstream';
import { forwardRequestHeaders, forwardResponseHeaders, upstreamFraming, type RequestBodyInfo } from './forwarding';
import type { BoundBodyFilter } from './hooks';
import type { HttpPeer } from './http-peer';
import type { BodyFilterResult, ProxyHttp } from './proxy-http';
import { RequestHeader } from './request-header';
import { ResponseHeader } from './response-header';
import { Session } from './session';
import { RequestBodyPump, type PumpOwner } from './upstream/request-body-pump';

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

export class ProxyTask<Ctx> implements ResponseHandler, DrainListener, PumpOwner, RequestBodyInfo {
  readonly session: Session;
  /** From `RequestBodyInfo`: the downstream request has a body. */
  hasBody = false;
  private readonly io: Downstream;
  private ctx!: Ctx;
  private clientGone = false;
  // one attempt
  private conn: HttpConnection | null = null;
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
  private wake: (() => void) | null = null;

  constructor(
    private readonly rt: ProxyRuntime<Ctx>,
    req: IncomingMessage,
    res: ServerResponse,
  ) {
    this.io = new Downstream(req, res);
    this.session = new Session(this.io);
    res.on('close', this.onDownstreamClose);
  }

  /** Runs the request to its end; never rejects. */
  async run(): Promise<void> {
    const { hooks, logger } = this.rt;
    const s = this.session;
    let error: ProxyError | null = null;
    try {
      this.ctx = hooks.newCtx();
      const ctx = this.ctx;
      await hooks.earlyRequestFilter(s, ctx);
      if (await hooks.requestFilter(s, ctx)) {
        if (!this.io.headersSent && !this.io.gone) {
          error = ProxyError.internal('InternalError', 'requestFilter returned true but sent no response');
        }
      } else if (!(await hooks.proxyUpstreamFilter(s, ctx))) {
        if (!this.io.headersSent && !this.io.gone) this.io.respond(502, ['connection', 'close'], undefined);
      } else {
        error = await this.proxyWithRetries();
      }
    } catch (err) {
      error = ProxyError.from(err);
    }
    if (error !== null) {
      this.logFailure(error);
      try {
        await hooks.failToProxy(s, error, this.ctx);
      } catch (err) {
        logger.error({ err, service: this.rt.name }, 'failToProxy hook threw');
        this.io.destroy();
      }
    }
    try {
      await hooks.logging(s, error, this.ctx);
    } catch (err) {
      logger.error({ err, service: this.rt.name }, 'logging hook threw');
    }
    publishRequest(this.rt.name, s, error);
    this.rt.taskDone();
  }

  private async proxyWithRetries(): Promise<ProxyError | null> {
    for (;;) {
      const err = await this.attempt();
      if (err === null) return null;
      if (!this.mayRetry(err)) return err;
      this.session.countRetry();
      this.rt.logger.debug(
        { service: this.rt.name, kind: err.kind, upstream: this.session.upstream?.address, retries: this.session.retries },
        'retrying request on another attempt',
      );
    }
  }

  private mayRetry(err: ProxyError): boolean {
    if (this.session.retries >= this.rt.maxRetries || this.clientGone || this.io.headersSent) return false;
    if (!err.canRetry(this.reused)) return false;
    if (this.pump !== null && this.pump.started) return false; // body bytes are gone, cannot replay
    if (this.headWritten && !IDEMPOTENT.has(this.io.method)) return false;
    return true;
  }

  private async attempt(): Promise<ProxyError | null> {
    const { hooks, pool } = this.rt;
    const s = this.session;
    const ctx = this.ctx;
    this.resetAttempt();
    let peer: HttpPeer;
    try {
      peer = await hooks.upstreamPeer(s, ctx);
      if (peer === null || typeof peer !== 'object' || typeof peer.address !== 'string' || typeof peer.options !== 'object') {
        throw new TypeError('upstreamPeer must return an HttpPeer');
      }
    } catch (err) {
      return ProxyError.from(err);
    }
    s.setUpstream(peer.address);
    if (this.clientGone) return goneError();
    let conn: HttpConnection;
    try {
      conn = await pool.acquire(peer);
    } catch (err) {
      const e = ProxyError.from(err, { kind: 'ConnectError', source: 'upstream' });
      try {
        return hooks.failToConnect(s, peer, ctx, e);
      } catch (err2) {
        return ProxyError.from(err2);
      }
    }
    this.reused = conn.reused;
    s.setUpstreamReused(conn.reused);
    if (this.clientGone) {
      pool.release(conn);
      return goneError();
    }
    this.conn = conn;
    try {
      await hooks.connectedToUpstream(s, conn.reused, peer, ctx);
      const request = new RequestHeader(this.io.method, this.io.target, forwardRequestHeaders(this.io.rawHeaders, s.clientAddr, 'http', this));
      await hooks.upstreamRequestFilter(s, request, ctx);
      await this.exchange(peer, request);
      return null;
    } catch (err) {
      const e = ProxyError.from(err);
      this.dropConnection();
      try {
        return hooks.errorWhileProxy(peer, s, e, ctx, conn.reused);
      } catch (err2) {
        return ProxyError.from(err2);
      }
    }
  }

  /** Sends the request on `this.conn` and forwards the response; resolves when the downstream response ended. */
  private async exchange(peer: HttpPeer, request: RequestHeader): Promise<void> {
    const { hooks } = this.rt;
    const s = this.session;
    const ctx = this.ctx;
    if (this.clientGone) throw goneError();
    const conn = this.conn as HttpConnection;
    const framing = upstreamFraming(request.headers, this.hasBody, peer.address);
    conn.request(request.method, request.path, request.headers.raw, this, {
      body: framing,
      readTimeoutMs: peer.options.readTimeoutMs,
      writeTimeoutMs: peer.options.writeTimeoutMs,
    });
    this.headWritten = true;
    if (framing !== 'none') {
      const f = this.rt.requestBodyFilter;
      this.pump = new RequestBodyPump(this.io.req, conn, f === null ? null : (chunk, end) => f(s, chunk, end, ctx), this);
      this.pump.start();
    }
    while (this.response === null) {
      if (this.failure !== null) throw this.failure;
      await this.sleep();
    }
    if (this.failure !== null) throw this.failure;
    const response = this.response;
    await hooks.upstreamResponseFilter(s, response, ctx);
    await hooks.responseFilter(s, response, ctx);
    if (this.failure !== null) throw this.failure;
    try {
      this.io.writeHead(response.status, response.reason, response.headers.raw);
    } catch (err) {
      // node:http refused a header value (control characters): the upstream sent it, or a filter set it.
      throw new ProxyError(`response head not valid for downstream: ${(err as Error).message}`, {
        kind: 'InvalidHTTPResponse',
        source: 'upstream',
        cause: err,
        context: peer.address,
      });
    }
    this.forwarding = true;
    if (this.upstreamEnded) {
      this.endDownstream();
    } else {
      this.conn?.resume();
      // No body byte was ready to go with the head: send the head now (streaming responses).
      if (!this.completed && this.failure === null && this.io.bytesSent === 0) this.io.flushHead();
    }
    while (!this.completed) {
      if (this.failure !== null) throw this.failure;
      await this.sleep();
    }
  }

  // ResponseHandler (from the upstream connection)

  onResponseHead(status: number, reason: string, rawHeaders: string[]): void {
    this.response = new ResponseHeader(status, reason, forwardResponseHeaders(rawHeaders));
    this.conn?.pause(); // until the response hooks ran and the head went downstream
    this.notify();
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
    else this.notify();
  }

  onResponseError(err: ProxyError): void {
    this.dropConnection();
    this.failure ??= err;
    this.notify();
  }

  onRequestDrain(): void {
    this.pump?.onUpstreamDrain();
  }

  // PumpOwner

  onRequestBodyError(err: unknown): void {
    this.failStream(err);
  }

  /** A body filter failed: abandon the upstream side and end the attempt with the error. */
  private failStream(err: unknown): void {
    this.dropConnection();
    this.failure ??= ProxyError.from(err);
    this.notify();
  }

  // DrainListener (downstream)

  onDownstreamDrain(): void {
    if (!this.waitingDrain) return;
    this.waitingDrain = false;
    if (!this.filterBusy) this.conn?.resume();
  }

  private sendDown(chunk: Buffer): void {
    if (chunk.length === 0) return;
    if (!this.io.write(chunk)) {
      this.waitingDrain = true;
      this.conn?.pause();
      this.io.onDrain(this);
    }
  }

  private filterChunk(chunk: Buffer | null, end: boolean): void {
    let out: BodyFilterResult | Promise<BodyFilterResult>;
    try {
      out = (this.rt.responseBodyFilter as BoundBodyFilter<Ctx>)(this.session, chunk, end, this.ctx);
    } catch (err) {
      this.failStream(err);
      return;
    }
    if (out instanceof Promise) {
      this.filterBusy = true;
      this.conn?.pause();
      out.then(
        (r) => this.afterFilter(r, chunk, end),
        (err: unknown) => this.failStream(err),
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
    this.io.end();
    this.completed = true;
    this.notify();
  }

  private readonly onDownstreamClose = (): void => {
    if (this.io.res.writableFinished) return;
    this.clientGone = true;
    this.dropConnection();
    this.failure ??= goneError();
    this.notify();
  };

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
    this.conn = null;
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

  private sleep(): Promise<void> {
    return new Promise<void>((resolve) => {
      this.wake = resolve;
    });
  }

  private notify(): void {
    const wake = this.wake;
    if (wake !== null) {
      this.wake = null;
      wake();
    }
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

function goneError(): ProxyError {
  return ProxyError.downstream('ClientGone', 'the client closed the connection');
}
