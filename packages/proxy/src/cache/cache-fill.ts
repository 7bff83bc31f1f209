/**
 * `CacheFill`: the upstream response body of a cacheable miss, written into the storage.
 * The client does not read the upstream directly: it reads the entry being filled, as every
 * request that joins meanwhile does, so a client going away never stops the fill for the
 * others. A slow store holds the upstream back (at most `MAX_PENDING_WRITES` writes pending).
 * An upstream failure mid-body aborts the fill (readers get an error, nothing truncated is
 * stored or served); a fill nobody needs any more (dropped for its size, every reader gone)
 * or a store that fails drops the upstream connection instead of reading the rest.
 */
import type { Logger } from '@pingora-ts/core';
import type { BodyWriter } from '@pingora-ts/cache';
import type { BodySink, BodySource } from '../flow/body-sink';

const MAX_PENDING_WRITES = 4;

/** The upstream side of a fill: paused while the store is behind, aborted when the rest is not wanted. */
export interface FillSource extends BodySource {
  abort(): void;
}

export class CacheFill implements BodySink {
  private pending = 0;
  private paused = false;
  private ended = false;
  /** Nothing more is written (failed, or no longer needed). */
  private over = false;
  private source: FillSource | null = null;
  private readonly onWritten = (stored: boolean): void => this.written(stored);
  private readonly onWriteError = (err: unknown): void => this.storeFailed(err);
  private readonly onFinishError = (err: unknown): void =>
    this.logger.error({ ...this.context, err: err instanceof Error ? err.message : String(err) }, 'cache storage failed to finish a fill');

  constructor(
    private readonly writer: BodyWriter,
    private readonly logger: Logger,
    private readonly context: { service: string; key: string },
  ) {}

  setSource(source: FillSource): void {
    this.source = source;
  }

  onBodyChunk(chunk: Buffer): void {
    if (this.over || chunk.length === 0) return;
    this.pending++;
    this.writer.write(chunk).then(this.onWritten, this.onWriteError);
    if (this.pending >= MAX_PENDING_WRITES && !this.paused && this.source !== null) {
      this.paused = true;
      this.source.pauseBody();
    }
  }

  onBodyEnd(): void {
    if (this.over) return;
    this.ended = true;
    if (this.pending === 0) this.complete();
  }

  /** The upstream failed mid-body: discard the fill. */
  fail(err: unknown): void {
    if (this.over) return;
    this.over = true;
    this.writer.abort();
    this.logger.warn({ ...this.context, err: err instanceof Error ? err.message : String(err) }, 'cache fill aborted');
  }

  private written(stored: boolean): void {
    this.pending--;
    if (this.over) return;
    if (!stored && !this.ended && this.writer.needed?.() === false) {
      // Too large to store, and every reader left: the rest of the body is of no use.
      this.over = true;
      this.writer.abort();
      this.source?.abort();
      return;
    }
    if (this.paused && this.pending < MAX_PENDING_WRITES / 2) {
      this.paused = false;
      this.source?.resumeBody();
    }
    if (this.ended && this.pending === 0) this.complete();
  }

  private storeFailed(err: unknown): void {
    this.pending--;
    if (this.over) return;
    this.over = true;
    this.writer.abort();
    // The connection may be paused on this store: drop it rather than hold it forever.
    this.source?.abort();
    this.logger.error({ ...this.context, err: err instanceof Error ? err.message : String(err) }, 'cache storage write failed; the fill is dropped');
  }

  private complete(): void {
    this.writer.finish().then(undefined, this.onFinishError);
  }
}
