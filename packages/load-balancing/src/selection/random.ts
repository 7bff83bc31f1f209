import type { Backend } from '../backend';
import type { BackendIter, SelectionAlgorithm, Selector } from './selection-algorithm';
import { weightedIndex } from './weighted-index';
import { EMPTY_ITER, WrappingIter } from './wrapping-iter';

/**
 * Weighted random: each selection picks backend `i` with probability
 * `weight[i] / sum(weights)`; the other backends follow in list order (for retries).
 * Needs no shared state, at the cost of only converging on the weights over many picks.
 */
export class Random implements SelectionAlgorithm {
  /** @param random a source of numbers in `[0, 1)`; `Math.random` by default (tests pass their own). */
  constructor(private readonly random: () => number = Math.random) {}

  build(backends: readonly Backend[]): Selector {
    return new RandomSelector(backends, this.random);
  }
}

class RandomSelector implements Selector {
  private readonly backends: readonly Backend[];
  /** `ends[i]` = weight of backends 0..i (prefix sums), for a binary search. */
  private readonly ends: Float64Array;

  constructor(
    backends: readonly Backend[],
    private readonly random: () => number,
  ) {
    this.backends = backends.slice();
    this.ends = new Float64Array(this.backends.length);
    let sum = 0;
    for (let i = 0; i < this.backends.length; i++) {
      sum += this.backends[i]!.weight;
      this.ends[i] = sum;
    }
  }

  iter(): BackendIter {
    const n = this.backends.length;
    if (n === 0) return EMPTY_ITER;
    return new WrappingIter(this.backends, weightedIndex(this.ends, this.random() * this.ends[n - 1]!));
  }
}
