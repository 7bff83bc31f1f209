import { ProxyError, type BackgroundService, type Logger } from '@pingora-ts/core';
import type { LoadBalancer } from '../load-balancer';

/**
 * Keeps a `LoadBalancer` fresh (Pingora's `impl BackgroundService for LoadBalancer`).
 *
 * `run(signal)` runs discovery (`update()`) at once, then again every `updateFrequencyMs`
 * (read every time) since it last started; `null` means "only at start". Health checks start
 * after the first discovery: with `healthCheckFrequencyMs` set, each backend is checked on its
 * own jittered timer (`LoadBalancer.runHealthChecks`, which follows the list as it changes);
 * with `null`, one round is run. When both are `null` and the discovery cannot `watch`, it
 * returns after the first discovery and round. A failed discovery is logged (`error`) and the
 * old list kept.
 *
 * When the discovery has `watch` (a file, DNS), it is started with the service and each
 * `changed()` runs `update()` at once, without waiting for `updateFrequencyMs`. Without
 * per-backend timers, an update that changes the list is followed at once by a health-check
 * round, so new backends start as their check says.
 *
 * When `signal` aborts, the wait ends at once, probes in flight are aborted (their outcome
 * is discarded) and `run` resolves; a discovery call in flight is awaited. One service runs
 * once at a time: a second concurrent `run` rejects.
 */
export class LoadBalancerService implements BackgroundService {
  readonly kind = 'background' as const;
  private running = false;
  /** Set by the discovery's `changed()`: an update is due now. */
  private updateDue = false;
  /** Ends the current wait early (a `changed()` came). */
  private wake: (() => void) | null = null;

  constructor(
    private readonly lb: LoadBalancer,
    readonly name: string,
    private readonly logger: Logger,
  ) {}

  async run(signal: AbortSignal): Promise<void> {
    if (this.running) throw ProxyError.internal('InternalError', `background service "${this.name}" is already running`);
    this.running = true;
    try {
      await this.loop(signal);
    } finally {
      this.running = false;
    }
  }

  private async loop(signal: AbortSignal): Promise<void> {
    const discovery = this.lb.backends().discovery;
    const watching = typeof discovery.watch === 'function';
    if (watching) {
      this.updateDue = false;
      discovery.watch!(() => {
        this.updateDue = true;
        this.wake?.();
      }, signal);
    }
    let checks: Promise<void> | null = null;
    let nextUpdate = 0;
    try {
      while (!signal.aborted) {
        const now = performance.now();
        let changed = false;
        if (nextUpdate <= now || this.updateDue) {
          this.updateDue = false;
          const before = this.lb.backends().items();
          try {
            await this.lb.update();
          } catch (err) {
            this.logger.error({ err, service: this.name }, `${this.name}: discovery failed, keeping the current backends`);
          }
          changed = this.lb.backends().items() !== before;
          nextUpdate = now + (this.lb.updateFrequencyMs ?? Infinity);
          if (signal.aborted) return;
        }
        if (checks === null) {
          if (this.lb.healthCheckFrequencyMs === null) {
            await this.lb.runHealthCheck(signal);
            checks = Promise.resolve();
          } else {
            checks = this.lb.runHealthChecks(signal);
          }
        } else if (changed && this.lb.healthCheckFrequencyMs === null) {
          // New backends are checked at once (per-backend timers do that by themselves).
          await this.lb.runHealthCheck(signal);
        }
        if (nextUpdate === Infinity && !watching) break;
        const wait = nextUpdate - performance.now();
        if (wait > 0 && !this.updateDue) await this.sleep(wait, signal);
      }
    } finally {
      // The per-backend timers run until the signal aborts (they settle at once after it).
      await checks;
    }
  }

  /** Resolves after `ms` (forever: `Infinity`), at once when `signal` aborts or `wake()` is called. */
  private sleep(ms: number, signal: AbortSignal): Promise<void> {
    return new Promise<void>((resolve) => {
      if (signal.aborted) return resolve();
      const done = (): void => {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        this.wake = null;
        resolve();
      };
      // Longest timer Node takes; an endless wait just loops around it.
      const timer = setTimeout(done, Math.min(ms, 0x7fffffff));
      signal.addEventListener('abort', done, { once: true });
      this.wake = done;
    });
  }
}
