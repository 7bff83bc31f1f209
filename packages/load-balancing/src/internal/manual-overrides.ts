import { Backend } from '../backend';

/**
 * The changes made by hand (`addBackend`, `removeBackend`, `setWeight`, `disable`) to the
 * list a discovery gives, kept by address so that they survive every later discovery
 * update until cleared. Internal to `Backends`.
 */
export class ManualOverrides {
  /** Added by hand: in the list whatever discovery says (and with this weight). */
  readonly added = new Map<string, Backend>();
  /** Removed by hand: left out even when discovery lists them. */
  readonly removed = new Set<string>();
  /** Weights set by hand, over the discovered (or added) ones. */
  readonly weights = new Map<string, number>();
  /** Disabled by hand: they stay in the list but get no traffic, also after leaving and coming back. */
  readonly disabled = new Set<string>();

  /** The discovered list with the manual changes applied: discovery order, then added ones. */
  apply(discovered: readonly Backend[]): Backend[] {
    if (this.added.size === 0 && this.removed.size === 0 && this.weights.size === 0) return discovered.slice();
    const out: Backend[] = [];
    const seen = new Set<string>();
    for (const d of discovered) {
      if (this.removed.has(d.key)) continue;
      seen.add(d.key);
      out.push(this.weighted(this.added.get(d.key) ?? d));
    }
    for (const [key, b] of this.added) if (!seen.has(key)) out.push(this.weighted(b));
    return out;
  }

  /** Forgets every manual change (or those of one address). */
  clear(key?: string): void {
    if (key === undefined) {
      this.added.clear();
      this.removed.clear();
      this.weights.clear();
      this.disabled.clear();
      return;
    }
    this.added.delete(key);
    this.removed.delete(key);
    this.weights.delete(key);
    this.disabled.delete(key);
  }

  private weighted(b: Backend): Backend {
    const w = this.weights.get(b.key);
    return w === undefined || w === b.weight ? b : withWeight(b, w);
  }
}

/** A copy of `b` with another weight, its `ext` entries carried over. */
export function withWeight(b: Backend, weight: number): Backend {
  const copy = new Backend(b.addr, weight);
  for (const [k, v] of b.ext) copy.ext.set(k, v);
  return copy;
}
