/**
 * `CacheServe`: answers one request from the cache (a hit, a revalidated or stale response, or
 * the entry a miss is filling). It answers the client's own conditional request (304) and a
 * single byte range (206, 416) from the stored response, a `HEAD` with the head alone, and
 * otherwise streams the stored body through `responseFilter` and `responseBodyFilter` (cached
 * and fetched responses look alike to the hooks, as in Pingora).
 */
import { ProxyError } from '@pingora-ts/core';
import { evaluateClientConditional, evaluateRange, fieldValue, hitHeaders, notModifiedHeaders, type CacheHit, type CacheStatus } from '@pingora-ts/cache';
import { BodyFlow, type FlowOwner } from '../flow/body-flow';
import { isThenable } from '../is-thenable';
import type { ProxyTask } from '../proxy-task';
import { ResponseHeader } from '../response-header';
import { CacheBodySource, type CacheSourceOwner } from './cache-body-source';

export class CacheServe<Ctx> implements FlowOwner, CacheSourceOwner {
  private readonly response: ResponseHeader;
  /** The head alone goes out (HEAD, 304, 416). */
  private readonly headOnly: boolean;
  private readonly source: CacheBodySource;
  /** The body is complete in the store: it follows the head at once. */
  private readonly complete: boolean;
  private flow: BodyFlow | null = null;
  private completed = false;
  private failure: ProxyError | null = null;
  private over = false;

  constructor(
    private readonly task: ProxyTask<Ctx>,
    hit: CacheHit,
    status: CacheStatus,
    statusHeader: string | null,
  ) {
    const d = task.downstream;
    const meta = hit.meta;
    const head = hitHeaders(meta, Date.now());
    let start = 0;
    let end = Infinity;
    let headOnly = d.method === 'HEAD';
    let response: ResponseHeader;
    if (evaluateClientConditional(d.method, d.rawHeaders, meta) === 304) {
      response = new ResponseHeader(304, '', notModifiedHeaders(head));
      headOnly = true;
    } else {
      response = new ResponseHeader(meta.status, meta.reason, head);
      const declared = fieldValue(meta.headers, 'content-length');
      const size = hit.size ?? (declared !== undefined && /^\d+$/.test(declared) ? Number(declared) : null);
      // A complete body sent with its length, also when the origin sent it chunked.
      if (hit.size !== null && declared === undefined && meta.status !== 204 && meta.status !== 304) response.headers.set('Content-Length', hit.size);
      if (size !== null && meta.status === 200) {
        const range = evaluateRange(d.method, d.rawHeaders, size, meta);
        if (range.status === 206) {
          response.status = 206;
          response.headers.set('Content-Range', range.contentRange);
          response.headers.set('Content-Length', range.end - range.start + 1);
          start = range.start;
          end = range.end;
        } else if (range.status === 416) {
          response.status = 416;
          response.headers.set('Content-Range', range.contentRange);
          response.headers.set('Content-Length', 0);
          headOnly = true;
        }
      }
    }
    if (statusHeader !== null) response.headers.set(statusHeader, status);
    this.response = response;
    this.headOnly = headOnly;
    this.source = new CacheBodySource(hit.body, this, start, end);
    this.complete = hit.size !== null;
  }

  /** `responseFilter`, then the head and the body. */
  start(): void {
    const t = this.task;
    let r: void | Promise<void>;
    try {
      r = t.rt.hooks.responseFilter(t.session, this.response, t.ctx);
    } catch (err) {
      this.failed(err);
      return;
    }
    if (isThenable(r)) t.wait(r, this, this.writeHead, this.failed);
    else this.writeHead();
  }

  private writeHead(): void {
    if (this.failure !== null) {
      this.failed(this.failure);
      return;
    }
    const t = this.task;
    const d = t.downstream;
    const response = this.response;
    try {
      d.writeHead(response.status, response.reason, response.headers.raw);
    } catch (err) {
      this.failed(err);
      return;
    }
    if (this.headOnly) {
      this.source.close();
      this.completed = true;
      d.end(null);
      t.wake();
      return;
    }
    const filter = t.rt.responseBodyFilter;
    const session = t.session;
    const ctx = t.ctx;
    const flow = new BodyFlow(this.source, d, filter === null ? null : (chunk, end) => filter(session, chunk, end, ctx), this);
    this.flow = flow;
    this.source.pipe(flow);
    // A fill still under way may be slow to give its first bytes: send the head now.
    if (!this.complete && !this.completed && this.failure === null && d.bytesSent === 0) d.flushHead();
  }

  /** Continues after an event woke the task. */
  onWake(): void {
    if (this.over) return;
    if (this.failure !== null) this.failed(this.failure);
    else if (this.completed) {
      this.over = true;
      this.task.finish(null);
    }
  }

  downstreamDrained(): void {
    this.flow?.onTargetDrain();
  }

  /** The client went away or sent something wrong: stop reading the store (the fill goes on). */
  fail(err: ProxyError): void {
    this.failure ??= err;
    this.stop();
    this.task.wake();
  }

  onFlowEnd(): void {
    this.completed = true;
    this.task.wake();
  }

  onFlowError(_flow: BodyFlow, err: unknown): void {
    this.fail(ProxyError.from(err));
  }

  onSourceError(err: unknown): void {
    this.fail(ProxyError.upstream('ReadError', `cached body unavailable: ${err instanceof Error ? err.message : String(err)}`, err));
  }

  private stop(): void {
    this.flow?.stop();
    this.source.close();
  }

  private failed(err: unknown): void {
    if (this.over) return;
    this.over = true;
    this.stop();
    this.task.requestFailed(err);
  }
}
