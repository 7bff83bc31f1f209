import { readFileSync, watch, type FSWatcher, type Stats } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import { ProxyError, type Logger } from '@pingora-ts/core';
import { parse } from 'yaml';
import { Backend } from '../backend';
import type { ServiceDiscovery } from './discovery';

export interface FileDiscoveryOptions {
  /**
   * How often the file's identity (inode, size, mtime) is compared as well, for where
   * `fs.watch` says nothing (some network and container file systems). Default 1000 ms.
   */
  pollIntervalMs?: number;
  /** Quiet time after a change before the file is read, so a burst of writes is read once. Default 100 ms. */
  debounceMs?: number;
  /** Use `fs.watch` besides polling (default `true`); `false`: polling only. */
  fsWatch?: boolean;
  /** Where watch problems are logged (`warn`); nothing by default. */
  logger?: Logger;
}

/**
 * Backends listed in a YAML or JSON file, re-read when it changes.
 *
 * The file is a list, or a map with a `backends` list; each entry is `"host:port"` or
 * `{ addr: "host:port", weight: 2 }` (weight default 1):
 *
 * ```yaml
 * - 10.0.0.1:8080
 * - addr: 10.0.0.2:8080
 *   weight: 2
 * ```
 *
 * `discover()` reads and checks the whole file and answers the new list, which the load
 * balancer swaps in at once (one `change`). A broken file (unreadable, a parse error, a bad
 * address or weight, an unknown key, no backends) rejects with a `ConfigError` naming the
 * path and the reason: the load balancer keeps the last good list (its background service
 * logs the error). Replace the file by a rename (write a temp file, then `mv`) so that a
 * half-written file is never read.
 *
 * `watch` (run by the background service) watches the file's directory with `fs.watch`
 * (which also sees a rename over the file, and Kubernetes' `..data` symlink swap) and polls
 * its identity every `pollIntervalMs`; changes are debounced.
 */
export class FileDiscovery implements ServiceDiscovery {
  readonly path: string;
  readonly pollIntervalMs: number;
  readonly debounceMs: number;
  readonly fsWatch: boolean;
  private readonly logger: Logger | undefined;
  /** The file's identity when `discover()` last read it, so the poll does not report that read's change again. */
  private readIdentity: string | undefined;

  constructor(path: string, opts: FileDiscoveryOptions = {}) {
    if (typeof path !== 'string' || path.length === 0) throw config('FileDiscovery: path must be a non-empty string');
    this.path = path;
    this.pollIntervalMs = positive('pollIntervalMs', opts.pollIntervalMs ?? 1000);
    this.debounceMs = positive('debounceMs', opts.debounceMs ?? 100, true);
    this.fsWatch = opts.fsWatch ?? true;
    this.logger = opts.logger;
  }

  /**
   * Reads `path` now and returns its backends; throws a `ConfigError` naming the path and
   * what is wrong (for a config check such as the load balancer's `-t`).
   */
  static readSync(path: string): Backend[] {
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (err) {
      throw config(`discovery file ${path}: cannot read it: ${(err as Error).message}`);
    }
    return FileDiscovery.parse(text, path);
  }

  /** Parses the text of a backends file (`path` only names it in errors). */
  static parse(text: string, path: string): Backend[] {
    let doc: unknown;
    try {
      doc = parse(text);
    } catch (err) {
      throw config(`discovery file ${path}: ${firstLine((err as Error).message)}`);
    }
    if (doc !== null && typeof doc === 'object' && !Array.isArray(doc)) {
      const keys = Object.keys(doc);
      if (keys.some((k) => k !== 'backends')) {
        throw config(`discovery file ${path}: unknown key "${keys.find((k) => k !== 'backends')}": expected a list, or a map with "backends"`);
      }
      doc = (doc as { backends?: unknown }).backends;
    }
    if (!Array.isArray(doc)) throw config(`discovery file ${path}: expected a list of backends ("host:port" or { addr, weight })`);
    if (doc.length === 0) throw config(`discovery file ${path}: lists no backends`);
    return doc.map((entry: unknown, i) => {
      try {
        return toBackend(entry);
      } catch (err) {
        throw config(`discovery file ${path}: backend ${i + 1}: ${(err as Error).message}`);
      }
    });
  }

  async discover(): Promise<Backend[]> {
    let text: string;
    try {
      this.readIdentity = identityOf(await stat(this.path));
      text = await readFile(this.path, 'utf8');
    } catch (err) {
      throw config(`discovery file ${this.path}: cannot read it: ${(err as Error).message}`);
    }
    return FileDiscovery.parse(text, this.path);
  }

  watch(changed: () => void, signal: AbortSignal): void {
    if (signal.aborted) return;
    const dir = dirname(this.path);
    const name = basename(this.path);
    let timer: NodeJS.Timeout | undefined;
    let burstSince = 0;
    const schedule = (): void => {
      const now = Date.now();
      if (burstSince === 0) burstSince = now;
      clearTimeout(timer);
      // A write that never pauses is still read every 10 debounce periods.
      const wait = Math.max(0, Math.min(this.debounceMs, burstSince + 10 * this.debounceMs - now));
      timer = setTimeout(() => {
        burstSince = 0;
        if (!signal.aborted) changed();
      }, wait);
      timer.unref();
    };

    let watcher: FSWatcher | undefined;
    const cannotWatch = (err: unknown): void =>
      this.logger?.warn({ err, path: this.path }, `cannot watch ${dir}; polling ${this.path} every ${this.pollIntervalMs} ms`);
    if (this.fsWatch) {
      try {
        watcher = watch(dir, { persistent: false }, (_event, file) => {
          const f = file === null ? null : String(file);
          if (f === null || f === name || f.startsWith('..')) schedule();
        });
        watcher.on('error', cannotWatch);
      } catch (err) {
        cannotWatch(err);
      }
    }

    let identity: string | undefined;
    let polling = false;
    const poll = async (): Promise<void> => {
      if (polling) return;
      polling = true;
      try {
        const id = identityOf(await stat(this.path));
        if (identity !== undefined && id !== identity && id !== this.readIdentity) schedule();
        identity = id;
      } catch {
        // Missing for now (deleted, or mid-swap): a read would fail too; the next poll sees it back.
        if (identity !== undefined && identity !== 'missing') schedule();
        identity = 'missing';
      } finally {
        polling = false;
      }
    };
    void poll();
    const poller = setInterval(() => void poll(), this.pollIntervalMs);
    poller.unref();

    signal.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        clearInterval(poller);
        watcher?.close();
      },
      { once: true },
    );
  }
}

function identityOf(s: Stats): string {
  return `${s.ino}:${s.size}:${s.mtimeMs}`;
}

function toBackend(entry: unknown): Backend {
  if (typeof entry === 'string') return new Backend(entry);
  if (entry === null || typeof entry !== 'object' || Array.isArray(entry)) {
    throw new Error(`expected "host:port" or { addr, weight }, got ${JSON.stringify(entry)}`);
  }
  const { addr, weight, ...rest } = entry as { addr?: unknown; weight?: unknown };
  const extra = Object.keys(rest);
  if (extra.length > 0) throw new Error(`unknown key "${extra[0]}" (valid: addr, weight)`);
  if (typeof addr !== 'string') throw new Error('missing "addr" ("host:port")');
  if (weight !== undefined && typeof weight !== 'number') throw new Error(`weight must be a number, got ${JSON.stringify(weight)}`);
  return new Backend(addr, weight ?? 1);
}

function config(message: string): ProxyError {
  return ProxyError.internal('ConfigError', message);
}

function firstLine(s: string): string {
  const nl = s.indexOf('\n');
  return nl < 0 ? s : s.slice(0, nl).replace(/:$/, '');
}

function positive(name: string, value: number, zeroOk = false): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || (value === 0 && !zeroOk)) {
    throw config(`FileDiscovery: ${name} must be a ${zeroOk ? 'non-negative' : 'positive'} number of ms, got ${String(value)}`);
  }
  return value;
}
