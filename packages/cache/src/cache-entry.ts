/** Which space of the cache an entry is in. */
export const WINDOW = 0;
export const MAIN = 1;

/** One cached value and its place in its queue (an intrusive list: no node per push). */
export class CacheEntry<K, V> {
  prev: CacheEntry<K, V> | null = null;
  next: CacheEntry<K, V> | null = null;
  /** S3-FIFO's use bits: reads since the entry last went round the queue, capped at 3. */
  uses = 0;
  queue: typeof WINDOW | typeof MAIN = WINDOW;

  constructor(
    readonly key: K,
    public value: V,
    /** Its `sizeOf`, 0 when the cache counts entries only. */
    public size: number,
    /** Clock time at which it expires; `Infinity` for never. */
    public expiresAt: number,
    /** The key's sketch hash, computed once. */
    readonly hash: number,
  ) {}
}

/** A FIFO queue of entries: O(1) push at the tail, shift at the head, and removal anywhere. */
export class EntryQueue<K, V> {
  head: CacheEntry<K, V> | null = null;
  tail: CacheEntry<K, V> | null = null;
  count = 0;
  bytes = 0;

  push(e: CacheEntry<K, V>): void {
    e.prev = this.tail;
    e.next = null;
    if (this.tail) this.tail.next = e;
    else this.head = e;
    this.tail = e;
    this.count++;
    this.bytes += e.size;
  }

  remove(e: CacheEntry<K, V>): void {
    if (e.prev) e.prev.next = e.next;
    else this.head = e.next;
    if (e.next) e.next.prev = e.prev;
    else this.tail = e.prev;
    e.prev = e.next = null;
    this.count--;
    this.bytes -= e.size;
  }

  /** Moves the head to the tail (CLOCK's second chance). */
  rotate(): void {
    const e = this.head;
    if (!e || e === this.tail) return;
    this.head = e.next;
    this.head!.prev = null;
    e.next = null;
    e.prev = this.tail;
    this.tail!.next = e;
    this.tail = e;
  }

  clear(): void {
    this.head = this.tail = null;
    this.count = 0;
    this.bytes = 0;
  }
}
