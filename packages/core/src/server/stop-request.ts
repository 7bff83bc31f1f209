/** Why a server stops: SIGTERM / `shutdown()`, SIGINT / `shutdown({ graceful: false })`, or a finished upgrade. */
export type StopReason = 'graceful' | 'fast' | 'upgrade';

/**
 * The one place a stop is asked for, whoever asks (a signal, `shutdown()`, the primary, an
 * upgrade): the first reason wins, except that a fast stop overrides a slower one.
 */
export class StopRequest {
  #reason: StopReason | undefined;
  #resolve!: () => void;
  /** Settles at the first request. */
  readonly requested = new Promise<void>((resolve) => {
    this.#resolve = resolve;
  });

  get reason(): StopReason | undefined {
    return this.#reason;
  }

  /** Records the request; true when it turns a graceful stop under way into a fast one. */
  request(reason: StopReason): boolean {
    if (this.#reason === undefined) {
      this.#reason = reason;
      this.#resolve();
      return false;
    }
    if (reason !== 'fast' || this.#reason === 'fast') return false;
    this.#reason = 'fast';
    return true;
  }
}
