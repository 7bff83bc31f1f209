import type { Backend } from '../backend';
import type { BackendIter, SelectionAlgorithm, Selector } from './selection-algorithm';
import { EMPTY_ITER, WrappingIter } from './wrapping-iter';

/**
 * Weighted round robin, smooth (the algorithm of nginx's `upstream` module).
 *
 * Each pick adds every backend's weight to its running score, takes the backend with the
 * highest score (the first one on a tie) and takes the weight sum off the winner. Over
 * every run of `sum(weights)` picks from a fresh selector each backend is chosen exactly
 * `weight` times, and the picks are spread out: weights 5,1,1 give `a a b a c a a`, not
 * `a a a a a b c`.
 *
 * The balancer builds it over the ready backends only, so an unhealthy backend leaves the
 * rotation without shifting its share onto its neighbour: the healthy ones keep their exact
 * proportions. After the pick, `iter()` yields the other backends in list order (for
 * retries); those do not move the rotation.
 *
 * When every weight is the same, the smooth algorithm is plain rotation in list order, so the
 * selector rotates an index instead (O(1) a pick rather than O(n): 10,000 equal backends).
 */
export class RoundRobin implements SelectionAlgorithm {
  build(backends: readonly Backend[]): Selector {
    return new RoundRobinSelector(backends);
  }
}

class RoundRobinSelector implements Selector {
  private readonly backends: readonly Backend[];
  private readonly weights: Float64Array;
  /** Running scores; sums of integers well below 2^53, so exact. */
  private readonly current: Float64Array;
  private readonly total: number;
  /** All weights are equal: the next index of a plain rotation; -1 otherwise. */
  private next = -1;

  constructor(backends: readonly Backend[]) {
    this.backends = backends.slice();
    const n = this.backends.length;
    this.weights = new Float64Array(n);
    this.current = new Float64Array(n);
    let total = 0;
    for (let i = 0; i < n; i++) {
      const w = this.backends[i]!.weight;
      this.weights[i] = w;
      total += w;
    }
    this.total = total;
    let equal = n > 0;
    for (let i = 1; i < n && equal; i++) equal = this.weights[i] === this.weights[0];
    if (equal) this.next = 0;
  }

  iter(): BackendIter {
    const n = this.backends.length;
    if (n === 0) return EMPTY_ITER;
    return new WrappingIter(this.backends, n === 1 ? 0 : this.pick());
  }

  /** One step of smooth weighted round robin; the whole step runs without yielding. */
  private pick(): number {
    if (this.next >= 0) {
      const i = this.next;
      this.next = i + 1 === this.weights.length ? 0 : i + 1;
      return i;
    }
    const { weights, current } = this;
    let best = 0;
    let bestScore = -Infinity;
    for (let i = 0; i < weights.length; i++) {
      const score = current[i]! + weights[i]!;
      current[i] = score;
      if (score > bestScore) {
        bestScore = score;
        best = i;
      }
    }
    current[best] = bestScore - this.total;
    return best;
  }
}
