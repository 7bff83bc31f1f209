/**
 * `CacheFill`: the upstream response body of a cacheable miss, written into the storage.
 * The client does not read the upstream directly: it reads the entry being filled, as every
 * request that joins meanwhile does, so a client going away never stops the fill for the
 * others. A slow store holds the upstream back (at most `MAX_PENDING_WRITES` writes pending);
 * an upstream failure mid-body aborts the fill (readers get an error, nothing truncated is
 * stored or served).
 */
import type { Logger } from '@pingora-ts/core';
import type { BodyWriter } from '@pingora-ts/cache';
import type { BodySink, BodySource } from '../flow/body-sink';

const MAX_PENDING_WRITES = 4;

export class CacheFill implements BodySink {
  private pending = 0;
  private paused = false;
  private ended = false;
  private failed = false;
  private source: BodySource | null = null;
  private readonly onWritten = (): void => this.written();
  private readonly onWriteError = (err: unknown): void => this.fail(err);

  constructor(
    private readonly writer: BodyWriter,
    private readonly logger: Logger,
    private readonly context: { service: string; key: string },
  ) {}

  /** The upstream side, paused while the store is behind. */
  setSource(source: BodySource): void {
    this.source = source;
  }

  onBodyChunk(chunk: Buffer): void {
    if (this.failed || chunk.length === 0) return;
    this.pending++;
    this.writer.write(chunk).then(this.onWritten, this.onWriteError);
    if (this.pending >= MAX_PENDING_WRITES && !this.paused && this.source !== null) {
      this.paused = true;
      this.source.pauseBody();
    }
  }

  onBodyEnd(): void {
    if (this.failed) return;
    this.ended = true;
    if (this.pending === 0) this.complete();
  }

  /** The upstream failed mid-body: discard the fill. */
  fail(err: unknown): void {
    if (this.failed) return;
    this.failed = true;
    this.writer.abort();
    this.logger.warn({ ...this.context, err: err instanceof Error ? err.message : String(err) }, 'cache fill aborted');
  }

  private written(): void {
    this.pending--;
    if (this.failed) return;
    if (this.paused && this.pending < MAX_PENDING_WRITES / 2) {
      this.paused = false;
      this.source?.resumeBody();
    }
    if (this.ended && this.pending === 0) this.complete();
  }

  private complete(): void {
    this.writer.finish().then(undefined, this.onWriteError);
  }
}
