/**
 * A worker's whole run (`threads` > 1, role `'worker'`): take the sockets from the primary,
 * listen on every listening service, report ready, serve until the primary (or a signal, or
 * a primary that is gone) says stop, then drain. Resolves the worker's exit code.
 */
import { holdProcess, type HandledSignal } from '../internal/hold-process';
import { errorMessage } from '../internal/error-message';
import type { RoleContext } from '../server/role-context';
import { gracefulShutdownTimeoutMs } from '../server-conf';
import { PrimaryConnection } from './primary-connection';

export interface WorkerRunOptions extends RoleContext {
  workerId: number;
}

export async function runWorker(o: WorkerRunOptions): Promise<number> {
  // Signals to a whole process group (a terminal's Ctrl-C) reach workers too; the upgrade
  // signals are the primary's business, and must not kill a worker by their default action.
  const release = holdProcess((signal: HandledSignal) => {
    if (signal === 'SIGTERM') o.requestStop('graceful');
    else if (signal === 'SIGINT') o.requestStop('fast');
  });
  let timeoutMs: number | undefined;
  const primary = new PrimaryConnection({
    workerId: o.workerId,
    logger: o.logger,
    channel: o.channel,
    onStop: (graceful, primaryTimeoutMs) => {
      if (primaryTimeoutMs !== undefined) timeoutMs = primaryTimeoutMs;
      o.requestStop(graceful ? 'graceful' : 'fast');
    },
  });
  try {
    const registry = await primary.init();
    o.onRegistry(registry);
    const failure = await o.services.listenAll(o.listenContext(registry));
    if (failure !== undefined) {
      primary.failed(failure);
      await o.services.shutdownListening(false, 0);
      return 1;
    }
    primary.ready(o.services.listening().flatMap((s) => s.addresses()));
    o.enter('running');
    await o.stop.requested;
    const graceful = o.stop.reason !== 'fast';
    o.enter(graceful ? 'graceful-terminate' : 'fast-shutdown');
    await o.services.shutdownListening(graceful, graceful ? (timeoutMs ?? gracefulShutdownTimeoutMs(o.conf)) : 0);
    registry.closeAll('handed-over');
    return 0;
  } catch (err) {
    primary.failed(errorMessage(err));
    return 1;
  } finally {
    primary.close();
    release();
    o.enter('shutdown');
  }
}
