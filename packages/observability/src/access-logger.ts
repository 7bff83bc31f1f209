import { mkdirSync, openSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';

/** One finished request, as the access log records it. */
export interface AccessLogEntry {
  method: string;
  path: string;
  status: number;
  /** Response body bytes sent to the client. */
  bytes: number;
  durationMs: number;
  client?: string | undefined;
  /** Upstream peer address of the last attempt, if any. */
  upstream?: string | null | undefined;
  /** Whether that upstream connection came from the pool (`false`: a new connection). */
  reused?: boolean | null | undefined;
  retries?: number | undefined;
  /** Error kind when the request failed. */
  error?: string | null | undefined;
  /** The HTTP cache's status (`HIT`, `MISS`, `EXPIRED`, `STALE`, `REVALIDATED`, `BYPASS`) when the service caches. */
  cache?: string | null | undefined;
}

export interface AccessLoggerOptions {
  /** File to append to; `stdout` (default) or `stderr`; `false` turns access logging off. */
  path?: string | false | undefined;
}

/** A batch is written once the next line might not fit in its 64 KiB... */
const BATCH_BYTES = 64 * 1024;
/** ...or at most this long after its first line. */
const BATCH_MS = 200;
/** While the target does not take bytes (a full pipe), lines beyond this are dropped, not queued. */
const MAX_PENDING_BYTES = 8 * 1024 * 1024;
/** At exit, how long (ms) a full pipe is waited for before the rest is dropped. */
const EXIT_WAIT_MS = 1000;

/**
 * Loggers holding unwritten lines, flushed synchronously by one `exit` listener (one listener
 * for every logger, so creating many never trips the max-listeners warning).
 */
const unwritten = new Set<() => void>();
let exitHooked = false;
function flushAllOnExit(): void {
  for (const flush of unwritten) flush();
}

const sleepCell = new Int32Array(new SharedArrayBuffer(4));

/**
 * A JSON string literal. Most values (methods, paths, addresses) need no escaping: a scan for
 * control characters, `"`, `\` and surrogates (lone ones must be escaped) is far cheaper than
 * `JSON.stringify`, which handles the rest.
 */
function str(s: string): string {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c === 0x22 || c === 0x5c || (c >= 0xd800 && c <= 0xdfff)) return JSON.stringify(s);
  }
  return '"' + s + '"';
}

/** Any other value as JSON, the way pino wrote it (non-finite numbers as `null`). */
function val(v: unknown): string {
  if (typeof v === 'string') return str(v);
  if (typeof v === 'number') return Number.isFinite(v) ? '' + v : 'null';
  return JSON.stringify(v) ?? 'null';
}

function countLines(buf: Buffer): number {
  let n = 0;
  for (let i = buf.indexOf(10); i !== -1; i = buf.indexOf(10, i + 1)) n++;
  return n;
}

/**
 * Writes one JSON line per request: method, path, status, bytes, duration, upstream, reuse.
 *
 * Lines are formatted with a template (no generic serializer), encoded into a 64 KiB batch
 * buffer as they come, and written with `fs.writeSync` once the next line might not fit, 200 ms
 * after the batch's first line, on `flush()`, and at process exit. A batch always ends on a
 * line boundary. The batch is a Buffer, not a string of lines: a string batch lived across
 * young-generation GCs (each scavenge copied a few hundred KB of its pieces); a Buffer costs
 * the GC nothing. A failed write (EPIPE on a closed stdout, a full disk) never throws: its
 * lines are counted in `dropped`, and after EPIPE or EBADF the target is abandoned.
 */
export class AccessLogger {
  readonly enabled: boolean;
  #fd: number;
  /** Whole lines not yet written: `#batch` up to `#used`. */
  readonly #batch: Buffer;
  #used = 0;
  /** The unwritten tail of a batch the target took only partly (EAGAIN on a full pipe). */
  #stalled: Buffer | null = null;
  #timer: NodeJS.Timeout | null = null;
  #armed = false;
  /** The millisecond `#head` was made for, and `{"level":30,"time":"<ISO>"` for it. */
  #ms = -1;
  #head = '';
  #dropped = 0;
  #lastError: Error | null = null;
  readonly #flushOnExit = (): void => this.#write(true);
  readonly #onTimer = (): void => {
    this.#armed = false;
    this.#write(false);
    if (this.#used > 0 || this.#stalled) this.#arm();
    else unwritten.delete(this.#flushOnExit);
  };

  constructor(opts: AccessLoggerOptions = {}) {
    this.enabled = opts.path !== false;
    this.#batch = Buffer.allocUnsafeSlow(this.enabled ? BATCH_BYTES : 0);
    const target = opts.path === false || opts.path === undefined ? 'stdout' : opts.path;
    if (!this.enabled) this.#fd = -1;
    else if (target === 'stdout') this.#fd = 1;
    else if (target === 'stderr') this.#fd = 2;
    else {
      // Opened now, synchronously, so a bad path fails at start-up rather than on a later line.
      mkdirSync(dirname(target), { recursive: true });
      this.#fd = openSync(target, 'a');
    }
  }

  /** Lines lost to write errors (or to a target that stopped taking bytes) so far. */
  get dropped(): number {
    return this.#dropped;
  }

  /** The last write error, if any (the logger never throws it). */
  get lastError(): Error | null {
    return this.#lastError;
  }

  log(entry: AccessLogEntry): void {
    if (this.#fd < 0) {
      if (this.enabled) this.#dropped++;
      return;
    }
    const now = Date.now();
    if (now !== this.#ms) {
      this.#ms = now;
      this.#head = '{"level":30,"time":"' + new Date(now).toISOString() + '"';
    }
    const e = entry;
    let line = this.#head;
    if (e.method !== undefined) line += ',"method":' + (typeof e.method === 'string' ? str(e.method) : val(e.method));
    if (e.path !== undefined) line += ',"path":' + (typeof e.path === 'string' ? str(e.path) : val(e.path));
    if (e.status !== undefined) line += ',"status":' + val(e.status);
    if (e.bytes !== undefined) line += ',"bytes":' + val(e.bytes);
    if (e.durationMs !== undefined) line += ',"durationMs":' + val(e.durationMs);
    if (e.client !== undefined) line += ',"client":' + (typeof e.client === 'string' ? str(e.client) : val(e.client));
    if (e.upstream !== undefined) line += ',"upstream":' + (typeof e.upstream === 'string' ? str(e.upstream) : val(e.upstream));
    if (e.reused !== undefined) line += ',"reused":' + (e.reused === true ? 'true' : e.reused === false ? 'false' : val(e.reused));
    if (e.retries !== undefined) line += ',"retries":' + val(e.retries);
    if (e.error !== undefined) line += ',"error":' + (typeof e.error === 'string' ? str(e.error) : val(e.error));
    if (e.cache !== undefined) line += ',"cache":' + (typeof e.cache === 'string' ? str(e.cache) : val(e.cache));

    if (this.#stalled && this.#stalled.length > MAX_PENDING_BYTES) {
      this.#dropped++;
      return;
    }
    line += '}\n';
    // UTF-8 takes at most 3 bytes per UTF-16 unit: write the batch first unless the line surely fits.
    const most = line.length * 3;
    if (this.#used + most > BATCH_BYTES) {
      this.#write(false);
      if (this.#fd < 0) {
        this.#dropped++; // that write abandoned the target (EPIPE): this line is lost with the batch
        return;
      }
    }
    if (most > BATCH_BYTES) this.#write(false, Buffer.from(line, 'utf8')); // a line longer than any batch
    else this.#used += this.#batch.write(line, this.#used, 'utf8');
    if (!this.#armed) this.#arm();
  }

  /** Writes out buffered lines; resolves once they are written (or dropped on a write error). */
  async flush(): Promise<void> {
    this.#write(false);
    // A full pipe: give the reader time, without blocking the event loop.
    for (let waited = 0; this.#stalled && this.#fd >= 0 && waited < 30_000; waited += 10) {
      await new Promise((resolve) => setTimeout(resolve, 10));
      this.#write(false);
    }
  }

  #arm(): void {
    this.#armed = true;
    if (this.#timer) this.#timer.refresh();
    else this.#timer = setTimeout(this.#onTimer, BATCH_MS).unref();
    if (!exitHooked) {
      exitHooked = true;
      process.on('exit', flushAllOnExit);
    }
    unwritten.add(this.#flushOnExit);
  }

  /**
   * Writes the stalled tail, then the batch (then `extra`, one long line), synchronously.
   * `block` (at exit): wait out a full pipe for up to a second; otherwise keep the rest (a
   * copy: the batch buffer is filled again) for the next attempt.
   */
  #write(block: boolean, extra?: Buffer): void {
    if (this.#fd < 0) return;
    const parts: Buffer[] = [];
    if (this.#stalled) parts.push(this.#stalled);
    if (this.#used > 0) parts.push(this.#batch.subarray(0, this.#used));
    if (extra) parts.push(extra);
    this.#used = 0;
    if (parts.length === 0) return;
    const out = parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts);
    this.#stalled = null;
    let off = 0;
    let waited = 0;
    while (off < out.length) {
      try {
        off += writeSync(this.#fd, out, off, out.length - off);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'EAGAIN') {
          if (block && waited < EXIT_WAIT_MS) {
            Atomics.wait(sleepCell, 0, 0, 1);
            waited++;
            continue;
          }
          if (!block) {
            this.#stalled = Buffer.from(out.subarray(off));
            return;
          }
        }
        // EPIPE (nobody reads stdout), ENOSPC (disk full), ...: drop this batch, never throw.
        this.#dropped += countLines(out.subarray(off));
        this.#lastError = err as Error;
        if (code === 'EPIPE' || code === 'EBADF') this.#fd = -1;
        return;
      }
    }
  }
}
