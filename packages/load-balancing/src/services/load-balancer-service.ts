import { ProxyError, type BackgroundService, type Logger } from '@pingora-ts/core';
import type { LoadBalancer } from '../load-balancer';

/**
 * Keeps a `LoadBalancer` fresh (Pingora's `impl BackgroundService for LoadBalancer`).
 *
 * `run(signal)` runs discovery (`update()`) and a health-check round at once, then each
 * again when its frequency (`updateFrequencyMs`, `healthCheckFrequencyMs`, read every time)
 * has passed since it last started; `null` means "only at start". When both are `null` it
 * returns after the first round. Steps run one after the other, never two at a time. A
 * failed discovery is logged (`error`) and the old list kept.
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
    let nextUpdate = 0;
    let nextCheck = 0;
    while (!signal.aborted) {
      const now = performance.now();
      if (nextUpdate <= now) {
        try {
          await this.lb.update();
        } catch (err) {
          this.logger.error({ err, service: this.name }, `${this.name}: discovery failed, keeping the current backends`);
        }
        nextUpdate = now + (this.lb.updateFrequencyMs ?? Infinity);
        if (signal.aborted) return;
      }
      if (nextCheck <= now) {
        await this.lb.runHealthCheck(signal);
        nextCheck = now + (this.lb.healthCheckFrequencyMs ?? Infinity);
      }
      if (nextUpdate === Infinity && nextCheck === Infinity) return;
      const wait = Math.min(nextUpdate, nextCheck) - performance.now();
      if (wait > 0) await sleep(wait, signal);
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
