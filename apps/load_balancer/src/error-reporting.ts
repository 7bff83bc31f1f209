import type { Logger, Server } from '@pingora-ts/core';
import type { SentryCounts } from '@pingora-ts/observability';
import type { LbConf } from './lb-conf';

export type SentryConf = NonNullable<LbConf['sentry']>;

/** What `main` keeps of the error reporting: its counts (for metrics) and its end. */
export interface ErrorReporting {
  /** Events sent and dropped so far. */
  readonly counts: SentryCounts;
  /** Stops reporting and waits (a bounded time) for events still being sent. */
  close(): Promise<void>;
}

/**
 * Starts reporting to Sentry (`sentry:` in the config): in every process that serves, each
 * `HttpProxy` internal error (a throwing hook, a bug), through the proxy's diagnostics channel;
 * in the primary, a worker that exits unexpectedly; everywhere, an uncaught exception (core's
 * policy logs it and shuts down gracefully; the event is flushed before the exit). Sentry is
 * loaded only when configured.
 */
export async function startErrorReporting(server: Server<LbConf>, conf: SentryConf, logger: Logger, version: string): Promise<ErrorReporting> {
  const { SentryReporter } = await import('@pingora-ts/observability/sentry');
  const role = server.role;
  const reporter = new SentryReporter({
    dsn: conf.dsn,
    environment: conf.environment,
    sampleRate: conf.sample_rate,
    release: `load_balancer@${version}`,
    tags: role === 'worker' ? { role, worker: String(server.workerId) } : { role },
  });
  const unsubscribe = role === 'primary' ? () => {} : reporter.subscribeProxy();
  const onWorkerExit = (exit: Parameters<typeof reporter.captureWorkerExit>[0]): void => void reporter.captureWorkerExit(exit);
  server.on('worker-exit', onWorkerExit);
  const onException = (err: unknown): void => void reporter.captureError(err, { origin: 'uncaughtException' });
  process.on('uncaughtException', onException);
  return {
    counts: reporter,
    async close() {
      unsubscribe();
      server.off('worker-exit', onWorkerExit);
      process.off('uncaughtException', onException);
      await reporter.close(2000);
      if (reporter.dropped > 0) logger.warn({ dropped: reporter.dropped, sent: reporter.sent }, 'sentry events dropped (ingest down, slow or refusing)');
    },
  };
}
