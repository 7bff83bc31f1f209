/**
 * What the serving process does on an upgrade signal:
 * - SIGQUIT: hand the sockets to the process waiting on upgrade_sock (started with `-u`).
 * - SIGHUP: reload TLS certificates, re-read the conf; if it is valid, start the next
 *   generation and hand the sockets to it.
 * Either way nothing changes for clients unless the new process reports it serves; every
 * failure is logged and this process keeps serving.
 */
import { errorMessage } from '../internal/error-message';
import type { ListenerRegistry } from '../listeners/listener-registry';
import type { Logger } from '../logger';
import type { JsonValue } from '../state-channel';
import { handOverListeners } from './hand-over';

export interface UpgradeOnSignalOptions {
  registry: ListenerRegistry;
  /** Listening services that bind their own sockets: with any, there is nothing to hand over. */
  selfBinding: readonly string[];
  upgradeSock: string;
  daemon: boolean;
  errorLog: string | undefined;
  logger: Logger;
  /** How long this process drains once the new one serves (for the log line). */
  gracePeriodMs: number;
  /** SIGHUP: reloads the certificates here (or in the workers). */
  reloadTls(): void;
  /** SIGHUP: the conf file checked as `-t` would; the problem in one line, if any. */
  checkConf(): string | undefined;
  /** The `StateChannel.carry` values for the next process (SIGHUP's generation or the `-u` one). */
  carried(): Promise<Record<string, JsonValue>>;
}

/** Resolves true once the new process serves: this one should now drain and stop. */
export async function upgradeOnSignal(signal: 'SIGQUIT' | 'SIGHUP', o: UpgradeOnSignalOptions): Promise<boolean> {
  const { logger } = o;
  if (o.selfBinding.length > 0) {
    // Their sockets are not core's to hand over: a new process would have to bind them anew.
    logger.error({ signal, services: o.selfBinding }, 'cannot upgrade without downtime: these services bind their own sockets (no listenerConfigs); still serving');
    return false;
  }
  try {
    if (signal === 'SIGHUP') {
      o.reloadTls();
      const problem = o.checkConf();
      if (problem !== undefined) {
        logger.error({ signal, reason: problem }, 'the conf file is invalid; still serving with the old one');
        return false;
      }
    }
    const sockets = o.registry.sockets();
    logger.info({ signal, sockets: sockets.map((s) => s.addr) }, signal === 'SIGQUIT' ? `handing the listening sockets to the new process on ${o.upgradeSock}` : 'starting the next generation');
    const reply = await handOverListeners(signal, {
      sockets,
      ticketKeys: o.registry.ticketKeys,
      upgradeSock: o.upgradeSock,
      daemon: o.daemon,
      errorLog: o.errorLog,
      logger,
      carried: o.carried,
    });
    if (!reply.ok) {
      logger.error({ signal, reason: reply.message }, 'the new process failed to start; still serving');
      return false;
    }
    logger.info({ signal, pid: reply.pid, gracePeriodMs: o.gracePeriodMs }, 'the new process serves; draining and exiting');
    return true;
  } catch (err) {
    logger.error({ signal, reason: errorMessage(err) }, 'upgrade failed; still serving');
    return false;
  }
}
