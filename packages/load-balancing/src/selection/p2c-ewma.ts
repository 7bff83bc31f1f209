import type { Backend } from '../backend';
import type { LoadView } from '../load/request-observer';
import type { BackendIter, SelectionAlgorithm, Selector } from './selection-algorithm';
import { EMPTY_ITER } from './wrapping-iter';

/**
 * Power of two random choices over peak-EWMA latency (Finagle's and Linkerd's balancer): two
 * distinct backends are drawn at random and the one with the lower cost wins, where
 * `cost = (latencyMs + 1) × (inflight + 1) / weight` from the `LoadBalancer`'s `load`
 * (peak EWMA of the latency to the response head, and requests in flight). A backend that
 * turns slow or piles up requests is avoided at once, without every selection scanning all
 * backends. The key is ignored.
 *
 * Candidates after the pick: the other drawn backend, then the rest in list order after the
 * pick. `random` (numbers in `[0, 1)`, `Math.random` by default) is injectable for tests.
 */
export class P2cEwma implements SelectionAlgorithm {
  constructor(private readonly random: () => number = Math.random) {}

  build(backends: readonly Backend[], load: LoadView): Selector {
    return new P2cSelector(backends, load, this.random);
  }
}

class P2cSelector implements Selector {
  private readonly backends: readonly Backend[];

  constructor(
    backends: readonly Backend[],
    private readonly load: LoadView,
    private readonly random: () => number,
  ) {
    this.backends = backends.slice();
  }

  iter(): BackendIter {
    const backends = this.backends;
    const n = backends.length;
    if (n === 0) return EMPTY_ITER;
    if (n === 1) return new P2cIter(backends, 0, 0);
    const a = Math.min(n - 1, Math.floor(this.random() * n));
    // A second draw among the n - 1 others: distinct from the first without retrying.
    let b = Math.min(n - 2, Math.floor(this.random() * (n - 1)));
    if (b >= a) b++;
    const ca = this.cost(backends[a]!);
    const cb = this.cost(backends[b]!);
    return cb < ca ? new P2cIter(backends, b, a) : new P2cIter(backends, a, b);
  }

  private cost(b: Backend): number {
    return ((this.load.latencyMs(b) + 1) * (this.load.inflight(b) + 1)) / b.weight;
  }
}

/** `first`, then `second` (when distinct), then every other backend in list order after `first`. */
class P2cIter implements BackendIter {
  private step = 0;

  constructor(
    private readonly backends: readonly Backend[],
    private readonly first: number,
    private readonly second: number,
  ) {}

  next(): Backend | null {
    const n = this.backends.length;
    const s = this.step++;
    if (s === 0) return this.backends[this.first]!;
    if (n === 1) return null;
    if (s === 1) return this.backends[this.second]!;
    // Steps 2.. walk the list after `first`, leaving out `second`.
    let k = s - 1; // offsets 1..n-1 after first, minus the one that is `second`
    const secondOffset = (this.second - this.first + n) % n;
    if (k >= secondOffset) k++;
    if (k >= n) return null;
    return this.backends[(this.first + k) % n]!;
  }
}
