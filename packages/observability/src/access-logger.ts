import { closeSync, mkdirSync, openSync, writeSync } from 'node:fs';
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
  /** `1.1`, `2`...: the combined format's request line ends with `HTTP/<it>` (default `1.1`). */
  httpVersion?: string | undefined;
  /** The `Referer` request header (combined format; in JSON only when given). */
  referer?: string | undefined;
  /** The `User-Agent` request header (combined format; in JSON only when given). */
  userAgent?: string | undefined;
}

/** `json`: one JSON object per line (default). `combined`: the Apache / nginx combined log format. */
export type AccessLogFormat = 'json' | 'combined';

export interface AccessLoggerOptions {
  /** File to append to; `stdout` (default) or `stderr`; `false` turns access logging off. */
  path?: string | false | undefined;
  /** The line format (default `json`). */
  format?: AccessLogFormat | undefined;
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

function openAppend(path: string): number {
  mkdirSync(dirname(path), { recursive: true });
  return openSync(path, 'a');
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const two = (n: number): string => (n < 10 ? '0' + n : '' + n);

/** `03/Dec/2026:18:49:57 +0100`, local time as nginx's `$time_local`. */
function clfTime(d: Date): string {
  const off = -d.getTimezoneOffset();
  const abs = Math.abs(off);
  return (
    two(d.getDate()) + '/' + MONTHS[d.getMonth()] + '/' + d.getFullYear() + ':' + two(d.getHours()) + ':' + two(d.getMinutes()) + ':' + two(d.getSeconds()) +
    ' ' + (off < 0 ? '-' : '+') + two(Math.floor(abs / 60)) + two(abs % 60)
  );
}

/** A combined-format field: `-` when absent or empty, else `clfRaw`. */
function clf(v: unknown): string {
  return v === undefined || v === null || v === '' ? '-' : clfRaw(v);
}

/**
 * A value inside a combined-format line, escaped as nginx does: `"`, `\`, control characters
 * and every non-ASCII byte (of its UTF-8) as `\xHH`. Most values need none: a scan first.
 */
function clfRaw(v: unknown): string {
  const s = typeof v === 'string' ? v : String(v);
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c === 0x22 || c === 0x5c || c >= 0x7f) return clfEscape(s);
  }
  return s;
}

function clfEscape(s: string): string {
  let out = '';
  for (const b of Buffer.from(s, 'utf8')) {
    out += b < 0x20 || b === 0x22 || b === 0x5c || b >= 0x7f ? '\\x' + (b < 16 ? '0' : '') + b.toString(16).toUpperCase() : String.fromCharCode(b);
  }
  return out;
}

/** A whole number, or `-` (a non-finite or missing one). */
function num(v: unknown): string {
  return typeof v === 'number' && Number.isFinite(v) ? '' + v : '-';
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
  readonly #combined: boolean;
  /** The second `#clfTime` was made for, and `03/Dec/2026:18:49:57 +0000` for it. */
  #sec = -1;
  #clfTime = '';
  /** The file reopened by `reopen()`; null for stdout, stderr and off. */
  readonly #path: string | null;
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
    this.#combined = opts.format === 'combined';
    this.#batch = Buffer.allocUnsafeSlow(this.enabled ? BATCH_BYTES : 0);
    const target = opts.path === false || opts.path === undefined ? 'stdout' : opts.path;
    if (!this.enabled) this.#fd = -1;
    else if (target === 'stdout') this.#fd = 1;
    else if (target === 'stderr') this.#fd = 2;
    else {
      // Opened now, synchronously, so a bad path fails at start-up rather than on a later line.
      this.#fd = openAppend(target);
    }
    this.#path = this.enabled && target !== 'stdout' && target !== 'stderr' ? target : null;
  }

  /** The line format. */
  get format(): AccessLogFormat {
    return this.#combined ? 'combined' : 'json';
  }

  /**
   * Opens the file again by its path (logrotate's convention: after `mv access.log
   * access.log.1`, new lines go to a new `access.log`). Lines buffered now are written to the
   * old file first, so each line lands whole in one file or the other. A target given up after
   * EPIPE or EBADF is taken up again. No-op for stdout, stderr and off. Throws when the file
   * cannot be opened; the logger then keeps writing to the old one.
   */
  reopen(): void {
    if (this.#path === null) return;
    const fd = openAppend(this.#path);
    this.#write(false);
    const old = this.#fd;
    this.#fd = fd;
    if (old > 2) {
      try {
        closeSync(old);
      } catch {
        // already closed
      }
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
    const line = this.#combined ? this.#combinedLine(entry) : this.#jsonLine(entry);
    if (this.#stalled && this.#stalled.length > MAX_PENDING_BYTES) {
      this.#dropped++;
      return;
    }
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

  /** `{"level":30,"time":"<ISO>",...}\n`, the fields in `AccessLogEntry` order. */
  #jsonLine(e: AccessLogEntry): string {
    const now = Date.now();
    if (now !== this.#ms) {
      this.#ms = now;
      this.#head = '{"level":30,"time":"' + new Date(now).toISOString() + '"';
    }
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
    if (e.referer !== undefined) line += ',"referer":' + (typeof e.referer === 'string' ? str(e.referer) : val(e.referer));
    if (e.userAgent !== undefined) line += ',"userAgent":' + (typeof e.userAgent === 'string' ? str(e.userAgent) : val(e.userAgent));
    return line + '}\n';
  }

  /**
   * `client - - [03/Dec/2026:18:49:57 +0000] "GET /path HTTP/1.1" 200 43 "referer" "user agent"\n`:
   * nginx's `combined` (`$remote_addr - $remote_user [$time_local] "$request" $status
   * $body_bytes_sent "$http_referer" "$http_user_agent"`). The user is always `-` (credentials
   * are never logged); the time is local, its text made once per second.
   */
  #combinedLine(e: AccessLogEntry): string {
    const sec = Math.floor(Date.now() / 1000);
    if (sec !== this.#sec) {
      this.#sec = sec;
      this.#clfTime = clfTime(new Date(sec * 1000));
    }
    return (
      clf(e.client) + ' - - [' + this.#clfTime + '] "' + clfRaw(e.method) + ' ' + clfRaw(e.path) + ' HTTP/' + (e.httpVersion ?? '1.1') + '" ' +
      num(e.status) + ' ' + num(e.bytes) + ' "' + clf(e.referer) + '" "' + clf(e.userAgent) + '"\n'
    );
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
