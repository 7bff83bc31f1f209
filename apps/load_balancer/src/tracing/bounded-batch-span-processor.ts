/**
 * Batches finished spans to an exporter, off the request path, with a hard bound on memory and
 * exact counts of what was exported and what was dropped (the SDK's `BatchSpanProcessor`
 * drops silently). A request only ever pushes to an array: a collector that is down, slow or
 * answering garbage makes exports fail or time out, and the spans that do not fit are dropped.
 *
 * One export runs at a time; a batch leaves when `maxExportBatchSize` spans wait or
 * `exportDelayMs` after the first one. The exporter's own timeout (the same `exportTimeoutMs`)
 * ends an export; should it not call back, the export counts as failed a second later.
 */
import { TraceFlags } from '@opentelemetry/api';
import type { ExportResult } from '@opentelemetry/core';
import type { ReadableSpan, SpanExporter, SpanProcessor } from '@opentelemetry/sdk-trace-base';

/** `ExportResultCode.SUCCESS` (a const enum value, so that `@opentelemetry/core` loads only with the SDK). */
const EXPORT_SUCCESS = 0;

export interface BatchOptions {
  maxQueueSize: number;
  maxExportBatchSize: number;
  exportDelayMs: number;
  exportTimeoutMs: number;
}

/** What happened to the sampled spans of this process so far. */
export interface SpanExportStats {
  /** Accepted by the collector. */
  exported: number;
  /** Dropped: the queue was full (`queueFull`) or their export failed or timed out (`exportFailed`). */
  dropped: number;
  queueFull: number;
  exportFailed: number;
  /** Waiting for export now. */
  queued: number;
}

/** Told about every drop: why, how many, and the export's error if one failed. */
export type DropListener = (reason: 'queue_full' | 'export_failed', count: number, error: Error | undefined) => void;

export class BoundedBatchSpanProcessor implements SpanProcessor {
  private queue: ReadableSpan[] = [];
  private exporting: Promise<void> | null = null;
  private timer: NodeJS.Timeout | null = null;
  private closed = false;
  private exported = 0;
  private queueFull = 0;
  private exportFailed = 0;

  constructor(
    private readonly exporter: SpanExporter,
    private readonly options: BatchOptions,
    private readonly onDrop: DropListener,
  ) {}

  onStart(): void {}

  onEnd(span: ReadableSpan): void {
    if (this.closed || (span.spanContext().traceFlags & TraceFlags.SAMPLED) === 0) return;
    if (this.queue.length >= this.options.maxQueueSize) {
      this.queueFull++;
      this.onDrop('queue_full', 1, undefined);
      return;
    }
    this.queue.push(span);
    if (this.exporting !== null) return; // its end looks at the queue again
    if (this.queue.length >= this.options.maxExportBatchSize) this.exportNext();
    else if (this.timer === null) {
      this.timer = setTimeout(() => this.exportNext(), this.options.exportDelayMs);
      this.timer.unref();
    }
  }

  stats(): SpanExportStats {
    return {
      exported: this.exported,
      dropped: this.queueFull + this.exportFailed,
      queueFull: this.queueFull,
      exportFailed: this.exportFailed,
      queued: this.queue.length,
    };
  }

  /** Exports everything queued now (batch after batch); resolves when done, whatever the outcome. */
  async forceFlush(): Promise<void> {
    while (this.exporting !== null || this.queue.length > 0) {
      if (this.exporting === null) this.exportNext();
      await this.exporting;
    }
  }

  async shutdown(): Promise<void> {
    await this.forceFlush();
    this.closed = true;
    await this.exporter.shutdown();
  }

  /** Starts one export of up to a batch; when it ends, the next one if the queue holds a full batch, else the timer. */
  private exportNext(): void {
    if (this.timer !== null) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    if (this.exporting !== null || this.queue.length === 0) return;
    const batch = this.queue.length <= this.options.maxExportBatchSize ? this.queue : this.queue.slice(0, this.options.maxExportBatchSize);
    this.queue = batch === this.queue ? [] : this.queue.slice(batch.length);
    this.exporting = this.exportBatch(batch).then(() => {
      this.exporting = null;
      if (this.queue.length >= this.options.maxExportBatchSize) this.exportNext();
      else if (this.queue.length > 0 && this.timer === null && !this.closed) {
        this.timer = setTimeout(() => this.exportNext(), this.options.exportDelayMs);
        this.timer.unref();
      }
    });
  }

  private exportBatch(batch: ReadableSpan[]): Promise<void> {
    return new Promise((resolve) => {
      let settled = false;
      const settle = (ok: boolean, error: Error | undefined): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timeout);
        if (ok) this.exported += batch.length;
        else {
          this.exportFailed += batch.length;
          this.onDrop('export_failed', batch.length, error);
        }
        resolve();
      };
      const guardMs = this.options.exportTimeoutMs + 1000;
      const timeout = setTimeout(() => settle(false, new Error(`the exporter did not call back in ${guardMs} ms`)), guardMs);
      timeout.unref();
      try {
        this.exporter.export(batch, (result: ExportResult) => settle(result.code === EXPORT_SUCCESS, result.error));
      } catch (err) {
        settle(false, err instanceof Error ? err : new Error(String(err)));
      }
    });
  }
}
