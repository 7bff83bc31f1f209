import type { Backend } from '../backend';
import type { BackendIter } from './selection-algorithm';

/**
 * Yields `backends[first]`, then every other backend once, in list order after it
 * (wrapping around). Shared by `RoundRobin` and `Random`: the first candidate is the
 * algorithm's pick, the rest are the fallbacks for retries. Internal.
 */
export class WrappingIter implements BackendIter {
  private step = 0;

  constructor(
    private readonly backends: readonly Backend[],
    private readonly first: number,
  ) {}

  next(): Backend | null {
    const n = this.backends.length;
    if (this.step >= n) return null;
    let i = this.first + this.step++;
    if (i >= n) i -= n;
    return this.backends[i] ?? null;
  }
}

/** An iterator with no candidates (a selector built over no backends). */
export const EMPTY_ITER: BackendIter = { next: () => null };
