/**
 * The in-memory `HttpCacheStorage` (the default store).
 *
 * - Bounded by bytes (`maxSizeBytes`, bodies plus a per-entry overhead for the head): when full
 *   it evicts the least recently used complete entries; it never fails a request.
 * - Objects above `maxObjectBytes` pass through uncached: `put` declines them when their length
 *   is known, and a fill that grows past it is dropped from the store (its writer then resolves
 *   `false`; readers that already joined still get the whole body).
 * - One fill, many readers: `get` returns a fill in progress, whose reader streams what was
 *   written so far and then the rest as it arrives. A reader that goes away does not touch the
 *   fill; an aborted fill is removed and its readers get an error, never a truncated body.
 * - Fills in progress are not evictable, so the total may go over `maxSizeBytes` while they run
 *   (by at most `maxObjectBytes` per concurrent fill); eviction brings it back when they end.
 * - A fill dropped from the store (grown past `maxObjectBytes`) but still read keeps only what
 *   its slowest reader has not read yet, and its writes resolve only once that is below
 *   `DROPPED_FILL_HIGH_WATER`: an object of any size streams through in bounded memory.
 *
 * A `Map` in insertion order is the LRU list (a hit moves its entry to the end): the store
 * needs entries whose size grows while they fill and that are pinned until done, which
 * `lru-cache`'s fixed-size, always-evictable entries do not give.
 */
import type { CacheKey } from './cache-key';
import type { CacheMeta } from './cache-meta';
import type { BodyReader, BodyWriter, CacheHit, HttpCacheStorage, HttpStorageStats, PrimaryEntry, PutOptions } from './storage';

export interface MemoryHttpStorageOptions {
  /** Total bytes kept (bodies and heads). Default 64 MiB. */
  maxSizeBytes?: number;
  /** Largest body stored; larger ones pass through uncached. Default 8 MiB, at most `maxSizeBytes`. */
  maxObjectBytes?: number;
}

/** Bytes counted per entry on top of its body, for the head and bookkeeping. */
const ENTRY_OVERHEAD = 256;

/** Unread bytes a dropped fill holds for its readers before its writer waits for them. */
const DROPPED_FILL_HIGH_WATER = 1024 * 1024;

const TRUE = Promise.resolve(true);
const FALSE = Promise.resolve(false);
const NULL = Promise.resolve(null);

type State = 'filling' | 'done' | 'aborted';

class Entry {
  state: State = 'filling';
  /** The body's chunks from chunk number `released` on (earlier ones were read by every reader of a dropped fill). */
  chunks: Buffer[] = [];
  released = 0;
  /** Bytes in `chunks`. */
  heldBytes = 0;
  bodyBytes = 0;
  /** Counted in the store's total (false once evicted, purged, aborted or too large). */
  indexed = true;
  /** Not handed to readers until finished (`PutOptions.hidden`). */
  hidden = false;
  readonly readerSet = new Set<MemoryBodyReader>();
  private wakers: (() => void)[] = [];
  /** A dropped fill's writes waiting for the readers to catch up. */
  private drainers: (() => void)[] = [];

  constructor(
    readonly primary: string,
    readonly slotKey: string,
    public meta: CacheMeta,
    readonly overhead: number,
  ) {}

  get bytes(): number {
    return this.bodyBytes + this.overhead;
  }

  /** Resolves at the next write, finish or abort. */
  changed(): Promise<void> {
    return new Promise((resolve) => this.wakers.push(resolve));
  }

  wake(): void {
    if (this.wakers.length === 0) return;
    const w = this.wakers;
    this.wakers = [];
    for (const f of w) f();
  }

  get readers(): number {
    return this.readerSet.size;
  }

  append(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.heldBytes += chunk.length;
    this.bodyBytes += chunk.length;
    this.wake();
  }

  /** Resolves once the readers of this dropped fill left less than the high-water mark unread. */
  drained(): Promise<boolean> {
    if (this.heldBytes <= DROPPED_FILL_HIGH_WATER || this.readers === 0) return FALSE;
    return new Promise((resolve) => this.drainers.push(() => resolve(false)));
  }

  /** A reader moved on or left: a dropped fill lets go of what every reader has read. */
  readProgress(): void {
    if (this.indexed) return;
    let min = Infinity;
    for (const r of this.readerSet) if (r.index < min) min = r.index;
    if (min === Infinity) min = this.released + this.chunks.length; // no reader left: nothing to keep
    const drop = min - this.released;
    if (drop > 0) {
      for (let i = 0; i < drop; i++) this.heldBytes -= (this.chunks[i] as Buffer).length;
      this.chunks.splice(0, drop);
      this.released = min;
    }
    if (this.drainers.length > 0 && (this.heldBytes <= DROPPED_FILL_HIGH_WATER / 2 || this.readers === 0)) {
      const d = this.drainers;
      this.drainers = [];
      for (const f of d) f();
    }
  }
}

interface Slot {
  current: Entry | null;
  pending: Entry | null;
}

interface Primary {
  vary: readonly string[];
  slots: Map<string, Slot>;
}

class MemoryBodyReader implements BodyReader {
  /** The number of the next chunk to read. */
  index = 0;
  private closed = false;

  constructor(private readonly entry: Entry) {
    entry.readerSet.add(this);
  }

  // Not an async function: a chunk already there costs one resolved promise, no state machine.
  read(): Promise<Buffer | null> {
    const e = this.entry;
    if (this.closed) return NULL;
    if (this.index - e.released < e.chunks.length) {
      const chunk = e.chunks[this.index++ - e.released] as Buffer;
      if (!e.indexed) e.readProgress();
      return Promise.resolve(chunk);
    }
    if (e.state === 'done') {
      this.close();
      return NULL;
    }
    if (e.state === 'aborted') {
      this.close();
      return Promise.reject(new Error('cache fill aborted: the stored body is incomplete'));
    }
    return e.changed().then(() => this.read());
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.entry.readerSet.delete(this);
    this.entry.readProgress();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<Buffer> {
    try {
      for (let c = await this.read(); c !== null; c = await this.read()) yield c;
    } finally {
      this.close();
    }
  }
}

export class MemoryHttpStorage implements HttpCacheStorage {
  readonly maxSizeBytes: number;
  readonly maxObjectBytes: number;
  private readonly primaries = new Map<string, Primary>();
  /** Complete entries, least recently used first. */
  private readonly lru = new Set<Entry>();
  private total = 0;
  private evictions = 0;

  constructor(options: MemoryHttpStorageOptions = {}) {
    this.maxSizeBytes = positiveInteger(options.maxSizeBytes ?? 64 * 1024 * 1024, 'maxSizeBytes');
    this.maxObjectBytes = positiveInteger(options.maxObjectBytes ?? Math.min(8 * 1024 * 1024, this.maxSizeBytes), 'maxObjectBytes');
    if (this.maxObjectBytes > this.maxSizeBytes) {
      throw new TypeError(`cache option "maxObjectBytes" (${this.maxObjectBytes}) must not exceed "maxSizeBytes" (${this.maxSizeBytes})`);
    }
  }

  /** Bytes held now (bodies and heads of stored and filling entries). */
  get sizeBytes(): number {
    return this.total;
  }

  /** Complete entries stored. */
  get entries(): number {
    return this.lru.size;
  }

  /** Entries evicted to make room so far. */
  get evictionCount(): number {
    return this.evictions;
  }

  stats(): HttpStorageStats {
    return { sizeBytes: this.total, entries: this.lru.size, evictions: this.evictions };
  }

  lookup(primary: string): Promise<PrimaryEntry | null> {
    const p = this.primaries.get(primary);
    if (p === undefined) return NULL;
    return Promise.resolve({ vary: p.vary, variants: p.slots.size });
  }

  get(key: CacheKey): Promise<CacheHit | null> {
    const slot = this.primaries.get(key.primary)?.slots.get(key.variance ?? '');
    if (slot === undefined) return NULL;
    const pending = slot.pending;
    const entry = pending !== null && !pending.hidden ? pending : slot.current;
    if (entry === null) return NULL;
    if (entry.state === 'done') {
      // Touch: move to the most recently used end.
      this.lru.delete(entry);
      this.lru.add(entry);
      // A body that arrived in pieces is kept as one, once nobody reads the pieces: every hit
      // then hands it out in one read and one socket write.
      if (entry.chunks.length > 1 && entry.readers === 0 && entry.released === 0) entry.chunks = [Buffer.concat(entry.chunks, entry.bodyBytes)];
    }
    return Promise.resolve({ meta: entry.meta, body: new MemoryBodyReader(entry), size: entry.state === 'done' ? entry.bodyBytes : null });
  }

  put(key: CacheKey, meta: CacheMeta, expectedBytes: number | null = null, options: PutOptions = {}): Promise<BodyWriter | null> {
    if (expectedBytes !== null && expectedBytes > this.maxObjectBytes) return NULL;
    const slotKey = key.variance ?? '';
    let p = this.primaries.get(key.primary);
    if (p === undefined) {
      p = { vary: meta.vary, slots: new Map() };
      this.primaries.set(key.primary, p);
    }
    p.vary = meta.vary;
    let slot = p.slots.get(slotKey);
    if (slot === undefined) {
      slot = { current: null, pending: null };
      p.slots.set(slotKey, slot);
    }
    // A newer fill of the same variant replaces an older one still running (its readers keep it).
    if (slot.pending !== null) this.unindex(slot.pending);
    const entry = new Entry(key.primary, slotKey, meta, ENTRY_OVERHEAD + headBytes(meta));
    entry.hidden = options.hidden === true;
    slot.pending = entry;
    this.total += entry.overhead;
    this.evict();
    return Promise.resolve(this.writer(entry));
  }

  updateMeta(key: CacheKey, meta: CacheMeta): Promise<boolean> {
    const slot = this.primaries.get(key.primary)?.slots.get(key.variance ?? '');
    const entry = slot?.current ?? null;
    if (entry === null) return FALSE;
    entry.meta = meta;
    return TRUE;
  }

  purge(target: CacheKey | string): Promise<boolean> {
    if (typeof target === 'string') {
      const p = this.primaries.get(target);
      if (p === undefined) return FALSE;
      for (const slot of [...p.slots.values()]) this.dropSlot(slot);
      return TRUE;
    }
    const slot = this.primaries.get(target.primary)?.slots.get(target.variance ?? '');
    if (slot === undefined) return FALSE;
    this.dropSlot(slot);
    return TRUE;
  }

  private dropSlot(slot: Slot): void {
    if (slot.pending !== null) this.unindex(slot.pending);
    if (slot.current !== null) this.unindex(slot.current);
  }

  private writer(entry: Entry): BodyWriter {
    return {
      write: (chunk: Buffer): Promise<boolean> => {
        if (entry.state !== 'filling') return FALSE;
        if (!entry.indexed) {
          // Dropped from the store: keep feeding readers that joined, if any, at their pace.
          if (entry.readers === 0) return FALSE;
          entry.append(chunk);
          return entry.drained();
        }
        entry.append(chunk);
        this.total += chunk.length;
        if (entry.bodyBytes > this.maxObjectBytes) {
          this.unindex(entry);
          entry.readProgress();
          return entry.drained();
        }
        this.evict();
        return TRUE;
      },
      finish: (): Promise<boolean> => {
        if (entry.state !== 'filling') return FALSE;
        entry.state = 'done';
        entry.wake();
        if (!entry.indexed) return FALSE;
        const slot = this.slotOf(entry);
        if (slot === undefined || slot.pending !== entry) return FALSE;
        if (slot.current !== null) this.unindex(slot.current);
        slot.pending = null;
        slot.current = entry;
        this.lru.add(entry);
        this.evict();
        return Promise.resolve(entry.indexed);
      },
      needed: (): boolean => entry.state === 'filling' && (entry.indexed || entry.readers > 0),
      abort: (): void => {
        if (entry.state !== 'filling') return;
        entry.state = 'aborted';
        entry.wake();
        this.unindex(entry);
      },
    };
  }

  private slotOf(entry: Entry): Slot | undefined {
    return this.primaries.get(entry.primary)?.slots.get(entry.slotKey);
  }

  /** Takes `entry` out of the index and the byte count (readers holding it keep reading). */
  private unindex(entry: Entry): void {
    if (!entry.indexed) return;
    entry.indexed = false;
    this.total -= entry.bytes;
    this.lru.delete(entry);
    const p = this.primaries.get(entry.primary);
    const slot = p?.slots.get(entry.slotKey);
    if (p === undefined || slot === undefined) return;
    if (slot.current === entry) slot.current = null;
    if (slot.pending === entry) slot.pending = null;
    if (slot.current === null && slot.pending === null) {
      p.slots.delete(entry.slotKey);
      if (p.slots.size === 0) this.primaries.delete(entry.primary);
    }
  }

  /** Evicts least recently used complete entries until the total fits. */
  private evict(): void {
    if (this.total <= this.maxSizeBytes) return;
    for (const entry of this.lru) {
      if (this.total <= this.maxSizeBytes) break;
      this.unindex(entry);
      this.evictions++;
    }
  }
}

function headBytes(meta: CacheMeta): number {
  let n = 0;
  for (const s of meta.headers) n += s.length;
  return n;
}

function positiveInteger(v: number, name: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) throw new TypeError(`cache option "${name}" must be a positive integer, got ${String(v)}`);
  return v;
}
