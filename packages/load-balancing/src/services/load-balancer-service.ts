import { ProxyError, type BackgroundService, type Logger } from '@pingora-ts/core';
import type { LoadBalancer } from '../load-balancer';

/**
 * Keeps a `LoadBalancer` fresh (Pingora's `impl BackgroundService for LoadBalancer`).
 *
 * `run(signal)` runs discovery (`update()`) at once, then again every `updateFrequencyMs`
 * (read every time) since it last started; `null` means "only at start". Health checks start
 * after the first discovery: with `healthCheckFrequencyMs` set, each backend is checked on its
 * own jittered timer (`LoadBalancer.runHealthChecks`); with `null`, one round is run. When both
 * are `null` it returns after the first discovery and round. A failed discovery is logged
 * (`error`) and the old list kept.
 *
 * When `signal` aborts, the wait ends at once, probes in flight are aborted (their outcome
 * is discarded) and `run` resolves; a discovery call in flight is awaited. One service runs
 * once at a time: a second concurrent `run` rejects.
 */
export class LoadBalancerService implements BackgroundService {
  readonly kind = 'background' as const;
  private running = false;

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
    let checks: Promise<void> | null = null;
    try {
      while (!signal.aborted) {
        const started = performance.now();
        try {
          await this.lb.update();
        } catch (err) {
          this.logger.error({ err, service: this.name }, `${this.name}: discovery failed, keeping the current backends`);
        }
        if (signal.aborted) return;
        if (checks === null) {
          if (this.lb.healthCheckFrequencyMs === null) {
            await this.lb.runHealthCheck(signal);
            checks = Promise.resolve();
          } else {
            checks = this.lb.runHealthChecks(signal);
          }
        }
        const every = this.lb.updateFrequencyMs;
        if (every === null) break;
        const wait = started + every - performance.now();
        if (wait > 0) await sleep(wait, signal);
      }
    } finally {
      // The per-backend timers run until the signal aborts (they settle at once after it).
      await checks;
    }
  }
}

/** Resolves after `ms`, or at once when `signal` aborts. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise<void>((resolve) => {
    if (signal.aborted) return resolve();
    const done = (): void => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, Math.min(ms, 0x7fffffff));
    signal.addEventListener('abort', done, { once: true });
  });
}
