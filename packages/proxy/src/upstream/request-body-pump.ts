/**
 * Moves the downstream request body to the upstream connection with backpressure: the
 * downstream is paused while the upstream socket is full and resumed on drain. An optional
 * body filter (sync or async) sees each chunk; without one, chunks go straight through.
 *
 * Not `stream.pipeline`: on an upstream failure the downstream must stay open so the proxy can
 * still answer 502, and pipeline would destroy it.
 */
import type { HttpConnection } from '@pingora-ts/pool';
import type { DownstreamIo, RequestBodySink } from '../downstream/downstream-io';
import type { BodyFilterResult } from '../proxy-http';

/** A body filter with its session and ctx already bound. */
export type ChunkFilter = (chunk: Buffer | null, endOfStream: boolean) => BodyFilterResult | Promise<BodyFilterResult>;

/** Told when the filter fails. */
export interface PumpOwner {
  onRequestBodyError(err: unknown): void;
}

export class RequestBodyPump implements RequestBodySink {
  /** Some body bytes were taken from the downstream: the request can no longer be replayed. */
  started = false;
  /** The whole body was handed to the upstream connection. */
  done = false;
  private stopped = false;
  private waitingDrain = false;
  private filterBusy = false;
  private endPending = false;

  constructor(
    private readonly source: DownstreamIo,
    private readonly conn: HttpConnection,
    private readonly filter: ChunkFilter | null,
    private readonly owner: PumpOwner,
  ) {}

  start(): void {
    this.source.readBody(this);
  }

  /** The upstream socket drained (from `ResponseHandler.onRequestDrain`). */
  onUpstreamDrain(): void {
    if (!this.waitingDrain) return;
    this.waitingDrain = false;
    if (!this.filterBusy && !this.stopped) this.source.resumeBody();
  }

  /**
   * Stops moving the body. `discardRest`: keep reading the downstream body and drop it (the
   * upstream answered early), so the downstream connection can carry its next request.
   */
  stop(discardRest: boolean): void {
    if (this.stopped) return;
    this.stopped = true;
    if (!this.done) this.source.stopBody(discardRest);
  }

  onRequestBodyChunk(chunk: Buffer): void {
    this.started = true;
    if (this.stopped) return;
    if (this.filter === null) this.write(chunk);
    else this.runFilter(chunk, false);
  }

  onRequestBodyEnd(): void {
    if (this.stopped) return;
    if (this.filterBusy) {
      this.endPending = true;
      return;
    }
    if (this.filter !== null) {
      this.runFilter(null, true);
      return;
    }
    this.finish();
  }

  private write(chunk: Buffer): void {
    if (chunk.length === 0 || this.stopped) return;
    if (!this.conn.writeBody(chunk)) {
      this.waitingDrain = true;
      this.source.pauseBody();
    }
  }

  private finish(): void {
    if (this.stopped) return;
    this.done = true;
    this.stopped = true;
    this.conn.endBody();
  }

  private runFilter(chunk: Buffer | null, end: boolean): void {
    let out: BodyFilterResult | Promise<BodyFilterResult>;
    try {
      out = (this.filter as ChunkFilter)(chunk, end);
    } catch (err) {
      this.fail(err);
      return;
    }
    if (out instanceof Promise) {
      this.filterBusy = true;
      this.source.pauseBody();
      out.then(
        (r) => this.afterFilter(r, chunk, end),
        (err: unknown) => this.fail(err),
      );
      return;
    }
    this.afterFilter(out, chunk, end);
  }

  private afterFilter(out: BodyFilterResult, chunk: Buffer | null, end: boolean): void {
    const wasBusy = this.filterBusy;
    this.filterBusy = false;
    if (this.stopped) return;
    const data = out === undefined ? chunk : out;
    if (data !== null && data !== undefined) this.write(data);
    if (end) {
      this.finish();
      return;
    }
    if (this.endPending) {
      this.endPending = false;
      this.onRequestBodyEnd();
      return;
    }
    if (wasBusy && !this.waitingDrain) this.source.resumeBody();
  }

  private fail(err: unknown): void {
    this.stop(false);
    this.owner.onRequestBodyError(err);
  }
}
