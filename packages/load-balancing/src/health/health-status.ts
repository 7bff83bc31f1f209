/**
 * The health of one backend: whether it is healthy, whether it is enabled, whether passive
 * health ejected it, and how many check outcomes in a row have disagreed with its current
 * state. The only place where the consecutive-success / consecutive-failure rule lives.
 * Internal to `Backends`.
 */
export class HealthStatus {
  /** Backends start healthy (as in Pingora) until checks say otherwise, unless made with `false`. */
  healthy: boolean;
  /** Disabled backends are never selected by `select()`, healthy or not. */
  enabled = true;
  /** Ejected by passive health (`OutlierDetector`) until this time (epoch ms); 0: not ejected. */
  ejectedUntil = 0;
  /** Outcomes in a row that disagree with `healthy`. */
  private disagreeing = 0;
  /**
   * Started unhealthy and never checked: the first outcome decides at once, whatever the
   * threshold (as Envoy does for a host it just learnt of), so a new backend joins after
   * one passing check.
   */
  private unchecked: boolean;

  /** @param healthy the state before any check: `true` (default) or `false` (wait for a check). */
  constructor(healthy = true) {
    this.healthy = healthy;
    this.unchecked = !healthy;
  }

  /** Healthy, enabled and not ejected: may receive traffic. */
  get ready(): boolean {
    return this.healthy && this.enabled && this.ejectedUntil === 0;
  }

  /**
   * Counts one check outcome. When `threshold` outcomes in a row disagree with the current
   * state, the state flips and the count starts over. An outcome that agrees resets it.
   * Returns `true` when this outcome flipped the state.
   */
  observe(success: boolean, threshold: number): boolean {
    if (this.unchecked) {
      this.unchecked = false;
      threshold = 1;
    }
    if (success === this.healthy) {
      this.disagreeing = 0;
      return false;
    }
    this.disagreeing++;
    if (this.disagreeing < Math.max(1, threshold)) return false;
    this.healthy = success;
    this.disagreeing = 0;
    return true;
  }

  /** Forces the state (and forgets the count). Returns `true` when it changed. */
  set(healthy: boolean): boolean {
    this.disagreeing = 0;
    this.unchecked = false;
    if (healthy === this.healthy) return false;
    this.healthy = healthy;
    return true;
  }
}
