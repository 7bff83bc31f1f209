import { ProxyError } from '@pingora-ts/core';
import type { Backend } from '../backend';
import { crc32 } from '../internal/crc32';
import { fnv1a64Mod } from '../internal/fnv1a64';
import { RingIter } from './ring-iter';
import type { BackendIter, SelectionAlgorithm, SelectionKey, Selector } from './selection-algorithm';
import { EMPTY_ITER } from './wrapping-iter';

/** Envoy's default Maglev table size (a prime). */
export const MAGLEV_DEFAULT_TABLE_SIZE = 65537;

export interface MaglevOptions {
  /**
   * Entries in the lookup table, a prime (default 65537, Envoy's). More entries spread keys
   * more evenly over many backends (Envoy advises at least 100 × the backend count); a list
   * longer than the table uses the next prime above the list's length.
   */
  tableSize?: number;
}

/**
 * Maglev consistent hashing (Google's Maglev paper, as Envoy's `MaglevTable` builds it): a
 * lookup table of `tableSize` entries where each backend owns a share proportional to its
 * weight, filled by each backend's own permutation of the table. A key goes to
 * `table[hash(key) % tableSize]`: one array read per selection, whatever the number of
 * backends. Adding or removing one backend of N moves about `1/N` of the keys.
 *
 * Weights work as in Envoy: in each round over the list a backend places an entry only while
 * `round × weight ≥` its placed count × the largest weight, so shares follow the weights.
 * Hashes: a backend's offset is FNV-1a 64 of its `addr`, its skip the CRC-32 of it; keys are
 * hashed with FNV-1a 64 of their UTF-8 bytes (Envoy uses xxHash64, so the table's contents
 * differ from Envoy's; its shape and properties do not).
 *
 * Candidates after the pick are the next distinct backends in the table.
 */
export class Maglev implements SelectionAlgorithm {
  readonly tableSize: number;

  constructor(opts: MaglevOptions = {}) {
    const size = opts.tableSize ?? MAGLEV_DEFAULT_TABLE_SIZE;
    if (!Number.isInteger(size) || size < 2 || size > 0x7fffffff || !isPrime(size)) {
      throw ProxyError.internal('ConfigError', `Maglev: tableSize must be a prime from 2 to 2^31-1, got ${String(size)}`);
    }
    this.tableSize = size;
  }

  build(backends: readonly Backend[]): Selector {
    let size = this.tableSize;
    if (backends.length > size) size = nextPrime(backends.length);
    return new MaglevSelector(backends, size);
  }
}

class MaglevSelector implements Selector {
  private readonly backends: readonly Backend[];
  private readonly table: Int32Array;

  constructor(backends: readonly Backend[], size: number) {
    this.backends = backends.slice();
    const n = this.backends.length;
    this.table = new Int32Array(n === 0 ? 0 : size).fill(-1);
    if (n === 0) return;
    // `slot[i]`: where the i-th backend's permutation (offset + skip × j, mod size) is now.
    const slot = new Float64Array(n);
    const skip = new Float64Array(n);
    const target = new Float64Array(n);
    let maxWeight = 0;
    for (let i = 0; i < n; i++) {
      const b = this.backends[i]!;
      slot[i] = fnv1a64Mod(b.addr, size);
      skip[i] = (crc32(b.addr) % (size - 1)) + 1;
      if (b.weight > maxWeight) maxWeight = b.weight;
    }
    const table = this.table;
    let filled = 0;
    for (let round = 1; filled < size; round++) {
      for (let i = 0; i < n && filled < size; i++) {
        const w = this.backends[i]!.weight;
        if (round * w < target[i]!) continue;
        target[i] = target[i]! + maxWeight;
        // The next free slot on this backend's permutation.
        const step = skip[i]!;
        let c = slot[i]!;
        while (table[c] !== -1) c = (c + step) % size;
        table[c] = i;
        slot[i] = (c + step) % size;
        filled++;
      }
    }
  }

  iter(key: SelectionKey): BackendIter {
    const size = this.table.length;
    if (size === 0) return EMPTY_ITER;
    return new RingIter(this.backends, this.table, fnv1a64Mod(key, size));
  }
}

function isPrime(n: number): boolean {
  if (n < 2) return false;
  if (n % 2 === 0) return n === 2;
  for (let d = 3; d * d <= n; d += 2) if (n % d === 0) return false;
  return true;
}

function nextPrime(n: number): number {
  let p = Math.max(2, n);
  while (!isPrime(p)) p++;
  return p;
}
