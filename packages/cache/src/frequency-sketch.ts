import { mix32 } from './key-hash';

const DEPTH = 4;
const MAX_COUNT = 15;

/**
 * TinyLFU's count-min sketch: how often a key was seen lately, approximately. Four rows of
 * `width` 4-bit counters (two per byte, so `2 × width` bytes in all), and a hot key saturates
 * at 15. After `10 × width` increments every counter is halved, so
 * popularity fades and a key that was hot an hour ago does not hold its place forever.
 * Increments are conservative (only the smallest counters grow), which keeps the estimate of
 * cold keys close to the truth where the admission decision is made.
 */
export class FrequencySketch {
  private table: Uint8Array;
  private mask: number;
  private blockMask: number;
  private additions = 0;
  private sampleSize: number;
  private readonly index = new Int32Array(DEPTH);

  constructor(expectedEntries: number) {
    const width = FrequencySketch.widthFor(expectedEntries);
    this.table = new Uint8Array((width * DEPTH) >>> 1);
    this.mask = width - 1;
    this.blockMask = (width >>> 4) - 1;
    this.sampleSize = 10 * width;
  }

  /** A power of two at least `entries`, 16 at least, 2^24 at most. */
  static widthFor(entries: number): number {
    const n = Math.min(Math.max(Math.ceil(entries), 16), 1 << 24);
    return 2 ** Math.ceil(Math.log2(n));
  }

  get width(): number {
    return this.mask + 1;
  }

  /** Grows the sketch for more entries (counts start over, as Caffeine does). */
  ensureCapacity(entries: number): void {
    const width = FrequencySketch.widthFor(entries);
    if (width <= this.width) return;
    this.table = new Uint8Array((width * DEPTH) >>> 1);
    this.mask = width - 1;
    this.blockMask = (width >>> 4) - 1;
    this.sampleSize = 10 * width;
    this.additions = 0;
  }

  private locate(hash: number): void {
    const h1 = mix32(hash);
    const h2 = mix32(h1 ^ 0x9e3779b9);
    // All four counters of a key lie in one 64-counter (32-byte) block, one 16-counter row
    // each: one cache line per get instead of four, which matters once the table outgrows L2.
    const block = (h1 & this.blockMask) << 6;
    for (let i = 0; i < DEPTH; i++) this.index[i] = block + (i << 4) + ((h2 >>> (i << 3)) & 15);
  }

  private counter(slot: number): number {
    return (this.table[slot >>> 1]! >>> ((slot & 1) << 2)) & 0xf;
  }

  /** The estimated count of `hash` (0 to 15). */
  frequency(hash: number): number {
    this.locate(hash);
    let min = MAX_COUNT;
    for (let i = 0; i < DEPTH; i++) {
      const c = this.counter(this.index[i]!);
      if (c < min) min = c;
    }
    return min;
  }

  /** Counts one more sighting of `hash`. */
  increment(hash: number): void {
    const min = this.frequency(hash);
    if (min === MAX_COUNT) return;
    for (let i = 0; i < DEPTH; i++) {
      const slot = this.index[i]!;
      if (this.counter(slot) === min) this.table[slot >>> 1] = this.table[slot >>> 1]! + (1 << ((slot & 1) << 2));
    }
    if (++this.additions >= this.sampleSize) this.age();
  }

  /** Halves every counter (both nibbles of a byte at once). */
  age(): void {
    const t = this.table;
    for (let i = 0; i < t.length; i++) t[i] = (t[i]! >>> 1) & 0x77;
    this.additions = this.additions >>> 1;
  }

  clear(): void {
    this.table.fill(0);
    this.additions = 0;
  }
}
