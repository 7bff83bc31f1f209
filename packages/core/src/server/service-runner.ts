/**
 * What a `Server` does with its services, the same in every role: listen on the listening
 * ones (and report which failed), shut them down within their timeout, and run the
 * background ones once.
 */
import { bounded } from '../internal/bounded';
import { errorMessage, errorName } from '../internal/error-message';
import type { Logger } from '../logger';
import type { BackgroundContext, BackgroundService, ListenContext, ListeningService, Service } from '../service';

/** Extra time given to a service's own shutdown timeout before the server stops waiting. */
export const SHUTDOWN_SLACK_MS = 1000;

export class ServiceRunner {
  readonly #services: readonly Service[];
  /** Read at each use: an app may swap the server's logger before `run()`. */
  readonly #logger: () => Logger;

  constructor(services: readonly Service[], logger: () => Logger) {
    this.#services = services;
    this.#logger = logger;
  }

  listening(): ListeningService[] {
    return this.#services.filter((s): s is ListeningService => s.kind === 'listening');
  }

  background(): BackgroundService[] {
    return this.#services.filter((s): s is BackgroundService => s.kind === 'background');
  }

  /** Names of the listening services that bind their own sockets (no `listenerConfigs`). */
  selfBinding(): string[] {
    return this.listening()
      .filter((s) => s.listenerConfigs === undefined)
      .map((s) => s.name);
  }

  /** Listens on every listening service; returns the first failure's message, if any. */
  async listenAll(ctx: ListenContext): Promise<string | undefined> {
    const services = this.listening();
    const results = await Promise.allSettled(services.map((s) => s.listen(ctx)));
    const logger = this.#logger();
    let failure: string | undefined;
    results.forEach((result, i) => {
      const name = services[i]?.name ?? '?';
      if (result.status === 'rejected') {
        logger.error({ service: name, err: result.reason }, 'cannot listen');
        failure ??= `${name}: ${errorMessage(result.reason)}`;
      } else {
        logger.info({ service: name, addresses: services[i]?.addresses() ?? [], ...(ctx.workerId > 0 ? { worker: ctx.workerId } : {}) }, 'listening');
      }
    });
    return failure;
  }

  /** Shuts every listening service down, each bounded by `timeoutMs` plus some slack. */
  async shutdownListening(graceful: boolean, timeoutMs: number): Promise<void> {
    const logger = this.#logger();
    await Promise.all(
      this.listening().map((s) => bounded(Promise.resolve().then(() => s.shutdown({ graceful, timeoutMs })), timeoutMs + SHUTDOWN_SLACK_MS, logger, s.name, 'shutdown')),
    );
  }

  /** Starts every background service once; each promise settles when that service is done. */
  runBackground(signal: AbortSignal, ctx: BackgroundContext): { name: string; done: Promise<void> }[] {
    return this.background().map((s) => ({ name: s.name, done: this.#runOne(s, signal, ctx) }));
  }

  /** A background service runs once; its failure is logged and never stops the server. */
  async #runOne(service: BackgroundService, signal: AbortSignal, ctx: BackgroundContext): Promise<void> {
    try {
      await service.run(signal, ctx);
      if (!signal.aborted) this.#logger().warn({ service: service.name }, 'background service stopped on its own');
    } catch (err) {
      if (signal.aborted && errorName(err) === 'AbortError') return;
      this.#logger().error({ service: service.name, err }, 'background service failed');
    }
  }
}
