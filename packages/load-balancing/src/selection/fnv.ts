import type { Backend } from '../backend';
import { fnv1a64Mod } from '../internal/fnv1a64';
import type { BackendIter, SelectionAlgorithm, SelectionKey, Selector } from './selection-algorithm';
import { weightedIndex } from './weighted-index';
import { EMPTY_ITER, WrappingIter } from './wrapping-iter';

/**
 * Hashing with FNV-1a 64 (Pingora's `FNVHash`, the `fnv` crate): the key's UTF-8 bytes are
 * hashed and the 64-bit hash taken modulo the weighted list, where each backend appears
 * `weight` times, heaviest first (as Pingora's `Weighted` sorts it; equal weights keep list
 * order). The same key always goes to the same backend while the list stays the same, but
 * any change of the list moves most keys: use `Ketama` or `Maglev` when backends come and go.
 * Health does not change the list: the balancer builds it over every backend and skips one
 * that is not ready, so only that backend's keys move while it is down.
 *
 * Candidates after the pick are the backends after it in that order, wrapping, each once
 * (Pingora rehashes for its fallbacks instead, which may repeat a backend).
 */
export class FnvHash implements SelectionAlgorithm {
  /** Built over every backend: one going down moves only its own keys (to the next candidates). */
  readonly overAll = true;

  build(backends: readonly Backend[]): Selector {
    return new FnvSelector(backends);
  }
}

class FnvSelector implements Selector {
  private readonly backends: readonly Backend[];
  /** `ends[i]`: weights of backends 0..i (prefix sums): the weighted list, without repeating anyone. */
  private readonly ends: Float64Array;

  constructor(backends: readonly Backend[]) {
    // Array#sort is stable: equal weights keep list order.
    this.backends = backends.slice().sort((a, b) => b.weight - a.weight);
    this.ends = new Float64Array(this.backends.length);
    let sum = 0;
    for (let i = 0; i < this.backends.length; i++) {
      sum += this.backends[i]!.weight;
      this.ends[i] = sum;
    }
  }

  iter(key: SelectionKey): BackendIter {
    const n = this.backends.length;
    if (n === 0) return EMPTY_ITER;
    // The backend at position `point` of the weighted list.
    return new WrappingIter(this.backends, weightedIndex(this.ends, fnv1a64Mod(key, this.ends[n - 1]!)));
  }
}
