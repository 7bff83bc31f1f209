import type { Backend } from '../backend';
import type { BackendIter } from './selection-algorithm';

/**
 * Walks a ring (or table) of backend indexes from one position onward, wrapping, and yields
 * each backend the first time it is met: the pick, then the next distinct backend on the
 * ring, as nginx's `hash … consistent` moves on for a retry. Internal to `Ketama` and `Maglev`.
 *
 * The first `next()` allocates nothing; a second one (a retry) allocates a bitmap of the
 * backends already yielded, so iterators stay independent of each other.
 */
export class RingIter implements BackendIter {
  private seen: Uint8Array | null = null;
  private walked = 0;
  private yielded = 0;

  constructor(
    private readonly backends: readonly Backend[],
    private readonly ring: Int32Array,
    private pos: number,
  ) {}

  next(): Backend | null {
    const n = this.backends.length;
    const len = this.ring.length;
    if (this.yielded >= n || len === 0) return null;
    if (this.yielded === 0) {
      const i = this.ring[this.pos]!;
      this.yielded = 1;
      this.walked = 1;
      this.firstIndex = i;
      return this.backends[i]!;
    }
    let seen = this.seen;
    if (seen === null) {
      seen = this.seen = new Uint8Array(n);
      seen[this.firstIndex] = 1;
    }
    while (this.walked < len) {
      this.pos = this.pos + 1 === len ? 0 : this.pos + 1;
      this.walked++;
      const i = this.ring[this.pos]!;
      if (seen[i] === 0) {
        seen[i] = 1;
        this.yielded++;
        return this.backends[i]!;
      }
    }
    // A backend with no place on the ring (a Maglev table smaller than the list): list order.
    for (let i = 0; i < n; i++) {
      if (seen[i] === 0) {
        seen[i] = 1;
        this.yielded++;
        return this.backends[i]!;
      }
    }
    return null;
  }

  private firstIndex = 0;
}
