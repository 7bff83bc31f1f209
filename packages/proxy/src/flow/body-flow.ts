/**
 * `BodyFlow` moves one body from a source to a target with backpressure, through an optional
 * body filter: the request body (downstream session → upstream session, `requestBodyFilter`)
 * and the response body (upstream session → downstream session, `responseBodyFilter`) are each
 * one `BodyFlow`. The source is paused while the target is full or an asynchronous filter
 * runs; an end that arrives while a filter is pending waits for it. Trailers at the end go
 * through an optional trailer filter (`requestTrailerFilter`, `upstreamResponseTrailerFilter`)
 * before the target ends with them.
 *
 * Not `stream.pipeline`: on an upstream failure the downstream must stay open so the proxy can
 * still answer 502, and pipeline would destroy both.
 */
import type { BodyFilterResult } from '../proxy-http';
import { HeaderList } from '../header-list';
import { isThenable } from '../is-thenable';
import type { BodySink, BodySource, BodyTarget } from './body-sink';

/** A body filter with its session and ctx bound: one chunk (or null at the end), **never the whole body**. */
export type ChunkFilter = (chunk: Buffer | null, endOfStream: boolean) => BodyFilterResult | PromiseLike<BodyFilterResult>;

/** A trailer filter with its session and ctx bound: may change the trailers in place. */
export type TrailerFilter = (trailers: HeaderList) => void | PromiseLike<void>;

/** Told when the flow ended (the target was ended) or failed (the filter threw or rejected). */
export interface FlowOwner {
  onFlowEnd(flow: BodyFlow): void;
  onFlowError(flow: BodyFlow, err: unknown): void;
}

export class BodyFlow implements BodySink {
  /** Some body bytes arrived: they are gone from the source, so the body cannot be replayed. */
  started = false;
  private stopped = false;
  /** Waiting for the target to drain. */
  private full = false;
  /** An asynchronous filter call is pending. */
  private filtering = false;
  /** The end arrived while `filtering`: its trailers (or null) wait for the filter. */
  private endPending: readonly string[] | null | undefined = undefined;

  constructor(
    private readonly source: BodySource,
    private readonly target: BodyTarget,
    private readonly filter: ChunkFilter | null,
    private readonly owner: FlowOwner,
    private readonly trailerFilter: TrailerFilter | null = null,
  ) {}

  /** The flow moves nothing more (the attempt failed or the other side finished). */
  stop(): void {
    this.stopped = true;
  }

  /** The target can take more after `write` returned false. */
  onTargetDrain(): void {
    if (!this.full) return;
    this.full = false;
    if (!this.filtering && !this.stopped) this.source.resumeBody();
  }

  onBodyChunk(chunk: Buffer): void {
    this.started = true;
    if (this.stopped) return;
    if (this.filter === null) this.write(chunk);
    else this.runFilter(chunk, false, null);
  }

  onBodyEnd(trailers: readonly string[] | null): void {
    if (this.stopped) return;
    if (this.filtering) {
      this.endPending = trailers;
      return;
    }
    if (this.filter !== null) this.runFilter(null, true, trailers);
    else this.finish(trailers);
  }

  private write(chunk: Buffer): void {
    if (chunk.length === 0 || this.stopped) return;
    if (!this.target.write(chunk)) {
      this.full = true;
      this.source.pauseBody();
    }
  }

  private finish(trailers: readonly string[] | null): void {
    if (this.stopped) return;
    const filter = this.trailerFilter;
    if (filter !== null && trailers !== null && trailers.length > 0) this.filterTrailers(filter, new HeaderList(trailers.slice()));
    else this.endTarget(trailers);
  }

  private endTarget(trailers: readonly string[] | null): void {
    if (this.stopped) return;
    this.stopped = true;
    this.target.end(trailers);
    this.owner.onFlowEnd(this);
  }

  /** Once per body, at its end: a closure here costs nothing per chunk. */
  private filterTrailers(filter: TrailerFilter, list: HeaderList): void {
    let out: void | PromiseLike<void>;
    try {
      out = filter(list);
    } catch (err) {
      this.fail(err);
      return;
    }
    if (isThenable(out)) {
      this.filtering = true;
      out.then(
        () => {
          this.filtering = false;
          this.endTarget(list.raw.length > 0 ? list.raw : null);
        },
        (err: unknown) => this.fail(err),
      );
      return;
    }
    this.endTarget(list.raw.length > 0 ? list.raw : null);
  }

  private runFilter(chunk: Buffer | null, end: boolean, trailers: readonly string[] | null): void {
    let out: BodyFilterResult | PromiseLike<BodyFilterResult>;
    try {
      out = (this.filter as ChunkFilter)(chunk, end);
    } catch (err) {
      this.fail(err);
      return;
    }
    if (isThenable(out)) {
      this.filtering = true;
      this.source.pauseBody();
      out.then(
        (r) => this.afterFilter(r, chunk, end, trailers),
        (err: unknown) => this.fail(err),
      );
      return;
    }
    this.afterFilter(out, chunk, end, trailers);
  }

  private afterFilter(out: BodyFilterResult, chunk: Buffer | null, end: boolean, trailers: readonly string[] | null): void {
    const wasFiltering = this.filtering;
    this.filtering = false;
    if (this.stopped) return;
    const data = out === undefined ? chunk : out;
    if (data !== null && data !== undefined) this.write(data);
    if (end) {
      this.finish(trailers);
      return;
    }
    const pending = this.endPending;
    if (pending !== undefined) {
      this.endPending = undefined;
      this.onBodyEnd(pending);
      return;
    }
    if (wasFiltering && !this.full) this.source.resumeBody();
  }

  private fail(err: unknown): void {
    if (this.stopped) return;
    this.stopped = true;
    this.owner.onFlowError(this, err);
  }
}
