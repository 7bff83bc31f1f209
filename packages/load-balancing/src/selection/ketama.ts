import { ProxyError } from '@pingora-ts/core';
import type { Backend } from '../backend';
import { CRC32_INIT, crc32, crc32Byte, crc32Final, crc32Update } from '../internal/crc32';
import { RingIter } from './ring-iter';
import type { BackendIter, SelectionAlgorithm, SelectionKey, Selector } from './selection-algorithm';
import { EMPTY_ITER } from './wrapping-iter';

/** Points on the ring per unit of weight (nginx's and Pingora's). */
export const KETAMA_POINTS_PER_WEIGHT = 160;

/** The most points a ring may hold (sum of weights × 160): 2^24, 256 MiB while building. */
const MAX_POINTS = 1 << 24;

/**
 * Ketama consistent hashing, a port of nginx's `hash $key consistent`
 * (`ngx_http_upstream_hash_module.c`) and so of Pingora's `pingora-ketama`: the same key goes
 * to the same backend as nginx would send it, for the same servers and weights.
 *
 * Each backend gets `160 × weight` points on a ring of 32-bit numbers: point `j` is the
 * CRC-32 of `host`, a zero byte, `port` and the previous point's four bytes (little-endian;
 * `0` for the first), where `host` and `port` are the backend's `addr` split at its last `:`
 * as nginx splits the `server` text. A key goes to the owner of the first point at or after
 * the CRC-32 of its UTF-8 bytes, wrapping to the first point. Equal points keep the one of the
 * backend listed first. When a backend leaves, only its keys move (to the next point's owner);
 * a new backend takes about `1/N` of the keys.
 *
 * Candidates after the pick are the next distinct backends on the ring, as nginx's retries
 * walk it. IPv6 backends hash as nginx writes them (`[::1]` and `8080`); Pingora hashes the
 * address without brackets, so for IPv6 only nginx agrees.
 */
export class Ketama implements SelectionAlgorithm {
  /**
   * The sorted ring (repeated hashes kept) of the last list that was not a subset of the one
   * before: a selector over a subset of it (backends that went down, or those that stay up)
   * is filtered from it in O(points) instead of hashing and sorting again.
   */
  private full: SortedPoints | null = null;

  build(backends: readonly Backend[]): Selector {
    const list = backends.slice();
    const map = this.full === null ? null : subsequenceMap(this.full.backends, list);
    if (map === null) this.full = sortedPoints(list);
    return new KetamaSelector(list, this.full as SortedPoints, map);
  }
}

/** Every point of a list of backends, sorted by hash (stable: list order among equal hashes). */
interface SortedPoints {
  readonly backends: readonly Backend[];
  readonly hashes: Uint32Array;
  readonly owners: Int32Array;
}

function sortedPoints(backends: readonly Backend[]): SortedPoints {
  let total = 0;
  for (const b of backends) total += b.weight * KETAMA_POINTS_PER_WEIGHT;
  if (total > MAX_POINTS) {
    throw ProxyError.internal('ConfigError', `Ketama: weights add up to ${total} ring points, more than ${MAX_POINTS}; use smaller weights`);
  }
  const hashes = new Uint32Array(total);
  const owners = new Int32Array(total);
  let at = 0;
  for (let i = 0; i < backends.length; i++) {
    const b = backends[i]!;
    const colon = b.addr.lastIndexOf(':');
    let base = crc32Update(CRC32_INIT, b.addr.slice(0, colon));
    base = crc32Byte(base, 0);
    base = crc32Update(base, b.addr.slice(colon + 1));
    let prev = 0;
    const points = b.weight * KETAMA_POINTS_PER_WEIGHT;
    for (let j = 0; j < points; j++) {
      let h = crc32Byte(base, prev & 0xff);
      h = crc32Byte(h, (prev >>> 8) & 0xff);
      h = crc32Byte(h, (prev >>> 16) & 0xff);
      h = crc32Byte(h, prev >>> 24);
      prev = crc32Final(h);
      hashes[at] = prev;
      owners[at] = i;
      at++;
    }
  }
  // A stable sort by hash (two 16-bit radix passes, O(points)): equal hashes keep list
  // order, the order nginx adds the points in.
  radixSort(hashes, owners);
  return { backends, hashes, owners };
}

/**
 * When `list` is `full` with some backends left out (same addresses and weights, same
 * order), the index in `list` of each backend of `full` (-1: left out); else `null`.
 */
function subsequenceMap(full: readonly Backend[], list: readonly Backend[]): Int32Array | null {
  const map = new Int32Array(full.length).fill(-1);
  let j = 0;
  for (let i = 0; i < list.length; i++) {
    const b = list[i]!;
    while (j < full.length && full[j]!.key !== b.key) j++;
    if (j === full.length || full[j]!.weight !== b.weight) return null;
    map[j++] = i;
  }
  return map;
}

class KetamaSelector implements Selector {
  /** Point hashes, ascending, each once. */
  private readonly hashes: Uint32Array;
  /** `owners[i]`: index in `backends` of the point `hashes[i]`. */
  private readonly owners: Int32Array;

  /** `map`: index in `backends` of each backend of `points.backends` (-1: not in it); `null`: the same list. */
  constructor(
    private readonly backends: readonly Backend[],
    points: SortedPoints,
    map: Int32Array | null,
  ) {
    const total = points.hashes.length;
    const hashes = new Uint32Array(total);
    const owners = new Int32Array(total);
    // Keep the points of these backends, and of repeated hashes the first (as nginx does).
    let n = 0;
    for (let k = 0; k < total; k++) {
      const owner = map === null ? points.owners[k]! : map[points.owners[k]!]!;
      if (owner < 0) continue;
      const h = points.hashes[k]!;
      if (n > 0 && hashes[n - 1] === h) continue;
      hashes[n] = h;
      owners[n] = owner;
      n++;
    }
    // A ring much smaller than the full one gets arrays of its own size.
    const small = n < total * 0.75;
    this.hashes = small ? hashes.slice(0, n) : hashes.subarray(0, n);
    this.owners = small ? owners.slice(0, n) : owners.subarray(0, n);
  }

  iter(key: SelectionKey): BackendIter {
    const hashes = this.hashes;
    const n = hashes.length;
    if (n === 0) return EMPTY_ITER;
    const h = crc32(key);
    // First point >= h (ngx_http_upstream_find_chash_point), wrapping past the last.
    let lo = 0;
    let hi = n;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (hashes[mid]! < h) lo = mid + 1;
      else hi = mid;
    }
    return new RingIter(this.backends, this.owners, lo === n ? 0 : lo);
  }
}

/**
 * Sorts `keys` ascending, and `values` alongside, stably and in place: LSD radix sort on two
 * 16-bit digits (the second pass writes back into the arrays given).
 */
function radixSort(keys: Uint32Array, values: Int32Array): void {
  const n = keys.length;
  const tmpKeys = new Uint32Array(n);
  const tmpValues = new Int32Array(n);
  const count = new Uint32Array(0x10000);
  radixPass(keys, values, tmpKeys, tmpValues, 0, count);
  radixPass(tmpKeys, tmpValues, keys, values, 16, count);
}

function radixPass(fromKeys: Uint32Array, fromValues: Int32Array, toKeys: Uint32Array, toValues: Int32Array, shift: number, count: Uint32Array): void {
  const n = fromKeys.length;
  count.fill(0);
  for (let i = 0; i < n; i++) count[(fromKeys[i]! >>> shift) & 0xffff]!++;
  let sum = 0;
  for (let d = 0; d < 0x10000; d++) {
    const c = count[d]!;
    count[d] = sum;
    sum += c;
  }
  for (let i = 0; i < n; i++) {
    const key = fromKeys[i]!;
    const to = count[(key >>> shift) & 0xffff]!++;
    toKeys[to] = key;
    toValues[to] = fromValues[i]!;
  }
}
