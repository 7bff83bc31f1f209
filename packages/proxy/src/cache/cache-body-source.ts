/**
 * `CacheBodySource`: a stored body (a `BodyReader` of the cache storage, complete or still
 * being filled) as the source of a `BodyFlow` to the client, with backpressure: while the flow
 * has the source paused, no chunk is read. Optionally cut to the bytes `start`..`end` (a 206).
 */
import type { BodyReader } from '@pingora-ts/cache';
import type { BodySink, BodySource } from '../flow/body-sink';

/** Told when reading failed (a fill aborted mid-body: the client must not get a clean end). */
export interface CacheSourceOwner {
  onSourceError(err: unknown): void;
}

export class CacheBodySource implements BodySource {
  private sink: BodySink | null = null;
  private paused = false;
  /** A `read()` is pending. */
  private reading = false;
  private closed = false;
  /** Bytes of the stored body passed so far (read position, for ranges). */
  private offset = 0;
  // Bound once: no closure per chunk.
  private readonly onChunk = (chunk: Buffer | null): void => this.chunkRead(chunk);
  private readonly onError = (err: unknown): void => this.readFailed(err);

  constructor(
    private readonly reader: BodyReader,
    private readonly owner: CacheSourceOwner,
    /** First byte sent (inclusive). */
    private readonly start = 0,
    /** Last byte sent (inclusive); `Infinity`: to the end. */
    private readonly end = Infinity,
  ) {}

  /** Starts reading into `sink`. */
  pipe(sink: BodySink): void {
    this.sink = sink;
    this.next();
  }

  pauseBody(): void {
    this.paused = true;
  }

  resumeBody(): void {
    if (!this.paused) return;
    this.paused = false;
    this.next();
  }

  /** Stops reading (the client went away or the flow stopped); the fill goes on for others. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.reader.close();
  }

  private next(): void {
    if (this.reading || this.paused || this.closed) return;
    this.reading = true;
    this.reader.read().then(this.onChunk, this.onError);
  }

  private chunkRead(chunk: Buffer | null): void {
    this.reading = false;
    if (this.closed) return;
    const sink = this.sink as BodySink;
    if (chunk === null) {
      this.close();
      sink.onBodyEnd(null);
      return;
    }
    const from = this.offset;
    this.offset += chunk.length;
    // Whole chunk inside the range (always so without one): pass it as it is.
    if (from >= this.start && this.offset - 1 <= this.end) sink.onBodyChunk(chunk);
    else if (this.offset > this.start && from <= this.end) sink.onBodyChunk(chunk.subarray(Math.max(0, this.start - from), Math.min(chunk.length, this.end + 1 - from)));
    if (this.offset > this.end) {
      this.close();
      sink.onBodyEnd(null);
      return;
    }
    this.next();
  }

  private readFailed(err: unknown): void {
    this.reading = false;
    if (this.closed) return;
    this.close();
    this.owner.onSourceError(err);
  }
}
