import type { Backend } from '../backend';
import type { LoadView } from '../load/request-observer';
import type { BackendIter, SelectionAlgorithm, Selector } from './selection-algorithm';
import { EMPTY_ITER } from './wrapping-iter';

/**
 * Least connections, weighted (nginx's `least_conn`, Envoy's least request with all backends
 * scanned): picks the backend with the fewest requests in flight per unit of weight
 * (`load.inflight(b) / weight`), as reported to the `LoadBalancer` through
 * `requestStarted` / `requestEnded`. Among equally loaded backends the choice rotates by
 * weight (a backend keeps the turn for `weight` picks in a row), so idle backends share the
 * traffic by their weights instead of the first one taking it all. The key is ignored.
 *
 * Candidates after the pick are the other backends from least to most loaded (sorted when a
 * retry asks for them). A selection scans the backends from where the last one stopped until
 * it meets an idle one: O(1) while some are idle, O(n) when all are busy (as nginx's scan).
 */
export class LeastConn implements SelectionAlgorithm {
  build(backends: readonly Backend[], load: LoadView): Selector {
    return new LeastConnSelector(backends, load);
  }
}

class LeastConnSelector implements Selector {
  private readonly backends: readonly Backend[];
  /** Where the next scan starts: ties go to the first one found from here, so they rotate. */
  private start = 0;
  /** Picks the backend at `start` had in a row; it keeps the turn for `weight` of them. */
  private turns = 0;

  constructor(
    backends: readonly Backend[],
    private readonly load: LoadView,
  ) {
    this.backends = backends.slice();
  }

  iter(): BackendIter {
    const backends = this.backends;
    const n = backends.length;
    if (n === 0) return EMPTY_ITER;
    let best = -1;
    let bestLoad = Infinity;
    let i = this.start;
    for (let k = 0; k < n; k++) {
      const b = backends[i]!;
      const l = this.load.inflight(b) / b.weight;
      if (l < bestLoad) {
        bestLoad = l;
        best = i;
        // Nothing beats an idle backend, and ties go to the first one from `start`: the same
        // pick as a full scan, in O(1) while some backend is idle.
        if (l === 0) break;
      }
      if (++i === n) i = 0;
    }
    if (best !== this.start) {
      this.start = best;
      this.turns = 0;
    }
    if (++this.turns >= backends[best]!.weight) {
      this.start = best + 1 === n ? 0 : best + 1;
      this.turns = 0;
    }
    return new LeastLoadedIter(backends, best, this.load);
  }
}

/** The pick, then (on a retry) the others by increasing load per weight, ties in list order. */
class LeastLoadedIter implements BackendIter {
  private rest: Backend[] | null = null;
  private at = -1;

  constructor(
    private readonly backends: readonly Backend[],
    private readonly first: number,
    private readonly load: LoadView,
  ) {}

  next(): Backend | null {
    if (this.at === -1) {
      this.at = 0;
      return this.backends[this.first]!;
    }
    if (this.rest === null) {
      const load = this.load;
      const first = this.backends[this.first];
      this.rest = this.backends.filter((b) => b !== first).sort((a, b) => load.inflight(a) / a.weight - load.inflight(b) / b.weight);
    }
    return this.rest[this.at++] ?? null;
  }
}
