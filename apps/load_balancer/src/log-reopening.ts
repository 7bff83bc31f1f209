import type { Logger, Server } from '@pingora-ts/core';
import { reopenLogs, reopenOnSignal, type Reopenable } from '@pingora-ts/observability';
import type { LbConf } from './lb-conf';

/** The state-channel topic by which the primary tells its workers to reopen (a counter). */
const TOPIC = 'logs:reopen';

/**
 * SIGUSR1 reopens the error and access log files (logrotate's `postrotate` convention, as
 * nginx). With `threads: N` the primary reopens its own and tells every worker through the
 * state channel (no signal to a worker that may not have its handler yet, where SIGUSR1 would
 * start Node's inspector); a worker also reopens on a SIGUSR1 of its own (a signal sent to
 * the whole process group). A worker that starts after a rotation gets the last count and
 * reopens once more: harmless, its files are already the new ones. Returns the release.
 */
export function reopenLogsOnSignal(server: Server<LbConf>, targets: readonly Reopenable[], logger: Logger): () => void {
  const channel = server.channel;
  if (server.role === 'primary') {
    let count = 0;
    return reopenOnSignal(targets, { logger, onReopen: () => channel.publish(TOPIC, ++count) });
  }
  const releaseSignal = reopenOnSignal(targets, { logger });
  if (server.role === 'single') return releaseSignal;
  const unsubscribe = channel.subscribe(TOPIC, () => reopenLogs(targets, logger));
  return () => {
    releaseSignal();
    unsubscribe();
  };
}
