/**
 * The index of the backend at `point` of a weighted list given as prefix sums (`ends[i]`: the
 * weights of backends 0..i): the first `i` with `ends[i] > point`, by binary search. `point`
 * is in `[0, ends[ends.length - 1])`; `ends` is not empty. Shared by `Random` and `FnvHash`.
 */
export function weightedIndex(ends: Float64Array, point: number): number {
  let lo = 0;
  let hi = ends.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (ends[mid]! > point) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}
