/**
 * The run of the process that binds the listeners: alone (`threads: 1`, role `'single'`,
 * it serves) or as the primary of workers (`threads` > 1, they serve). Takes the sockets
 * over from an old process if there is one, binds the rest, drops privileges, starts the
 * listening services (or the workers), writes the pid file, runs the background services,
 * tells whoever waits (a daemon's parent, the old generation) that it serves, then waits for
 * a stop and drains. Resolves the exit code.
 */
import { detachStderr, notifyDaemonParent } from '../daemon';
import { bounded } from '../internal/bounded';
import { errorMessage } from '../internal/error-message';
import { holdProcess, type HandledSignal } from '../internal/hold-process';
import { createServerHandleUnavailable } from '../internal/node/node-handles';
import { ListenerRegistry, type InheritedSocket } from '../listeners/listener-registry';
import { parseListenerConfig } from '../listeners/listener';
import type { ListenerConfig } from '../listeners/listener-config';
import { removePidFile, writePidFile } from '../pid-file';
import { dropPrivileges } from '../privileges';
import { gracefulShutdownTimeoutMs } from '../server-conf';
import { takeOverListeners, type TakeOver } from '../upgrade/take-over';
import type { ReceivedHandoff } from '../upgrade/upgrade-socket';
import { startWorkers } from '../workers/start-workers';
import type { WorkerPool } from '../workers/worker-pool';
import type { WorkerExit } from '../server-options';
import type { RoleContext } from './role-context';
import { SHUTDOWN_SLACK_MS } from './service-runner';

export interface MainProcessOptions extends RoleContext {
  role: 'single' | 'primary';
  /** `-u`: wait on upgrade_sock for the old process's sockets. */
  upgrade: boolean;
  /** Started by an old generation's SIGHUP: the sockets come over IPC, and it waits for our word. */
  handoffChild: boolean;
  /** The daemon child: its parent waits for our word, and stderr goes to error_log once serving. */
  daemonChild: boolean;
  /** The conf text the workers are to run. */
  confText: string | undefined;
  /** How long to drain after an upgrade. */
  gracePeriodMs(): number;
  onSignal(signal: HandledSignal): void;
  onPool(pool: WorkerPool): void;
  /** Primary: a serving worker exited unexpectedly. */
  onWorkerExit(exit: WorkerExit): void;
  /** Stops the listening services here, or the workers. */
  stopServing(graceful: boolean, timeoutMs: number): Promise<void>;
}

export async function runMainProcess(o: MainProcessOptions): Promise<number> {
  const { conf, logger } = o;
  const release = holdProcess(o.onSignal);
  let pidWritten = false;
  let registry: ListenerRegistry | undefined;
  const parentWaits = o.daemonChild || o.handoffChild;
  /** Startup failed: close whatever did start, tell whoever waits for us, exit code 1. */
  const fail = async (message: string, received?: ReceivedHandoff): Promise<number> => {
    logger.error({ reason: message }, 'startup failed');
    await o.stopServing(false, 0);
    registry?.closeAll('startup-failed');
    if (received) await received.reply({ ok: false, message });
    if (parentWaits) await notifyDaemonParent({ type: 'error', message });
    return 1;
  };
  try {
    let taken: TakeOver;
    try {
      taken = await takeOverListeners({
        handoffChild: o.handoffChild,
        upgrade: o.upgrade,
        upgradeSock: conf.upgrade_sock,
        sharedSock: conf.user !== undefined || conf.group !== undefined,
        selfBinding: o.services.selfBinding(),
        logger,
        stopped: o.stop.requested,
      });
    } catch (err) {
      return await fail(`upgrade: ${errorMessage(err)}`);
    }
    const { header, inherited, received } = taken;
    const carried = header?.carried;
    if (typeof carried === 'object' && carried !== null && !Array.isArray(carried)) o.channel.setInherited(carried);
    registry = new ListenerRegistry(logger, header ? { ticketKeys: Buffer.from(header.ticketKeys, 'base64') } : {});
    o.onRegistry(registry);
    const failure = await start(o, registry, inherited);
    if (failure !== undefined) return await fail(failure, received);
    try {
      writePidFile(conf.pid_file);
      pidWritten = true;
    } catch (err) {
      logger.error({ err, pid_file: conf.pid_file }, 'cannot write the pid file');
      // A daemon nobody can find is worse than no daemon.
      if (o.daemonChild) return await fail(`cannot write the pid file ${conf.pid_file}: ${errorMessage(err)}`, received);
    }
    const controller = new AbortController();
    const running = o.services.runBackground(controller.signal, { channel: o.channel, logger });
    o.enter('running');
    if (received) await received.reply({ ok: true, pid: process.pid });
    if (header) logger.info({ from: header.pid }, 'took the listening sockets over; serving');
    if (parentWaits) await notifyDaemonParent({ type: 'ready', pid: process.pid });
    if (o.daemonChild) detachStderr(conf.error_log);
    await o.stop.requested;
    const reason = o.stop.reason ?? 'graceful';
    o.enter(reason === 'upgrade' ? 'graceful-upgrade' : reason === 'graceful' ? 'graceful-terminate' : 'fast-shutdown');
    const timeoutMs = reason === 'fast' ? 0 : reason === 'upgrade' ? o.gracePeriodMs() : gracefulShutdownTimeoutMs(conf);
    await o.stopServing(reason !== 'fast', timeoutMs);
    controller.abort();
    await Promise.all(running.map((r) => bounded(r.done, timeoutMs + SHUTDOWN_SLACK_MS, logger, r.name, 'stop')));
    registry.closeAll(reason === 'upgrade' ? 'handed-over' : 'final');
    return 0;
  } finally {
    if (pidWritten) removePidFile(conf.pid_file);
    release();
    o.enter('shutdown');
  }
}

/** Binds, drops privileges, starts the listening services (or the workers). Returns a failure message, if any. */
async function start(o: MainProcessOptions, registry: ListenerRegistry, inherited: InheritedSocket[]): Promise<string | undefined> {
  const { conf, services } = o;
  // No fallback for binding: one line naming the Node.js version, before anything is bound.
  if (services.listening().length > 0 && createServerHandleUnavailable !== null) return createServerHandleUnavailable;
  const declared: ListenerConfig[] = [];
  try {
    for (const s of services.listening()) for (const cfg of s.listenerConfigs ?? []) declared.push(parseListenerConfig(cfg));
  } catch (err) {
    return errorMessage(err);
  }
  const selfBinding = services.selfBinding();
  if (o.role === 'primary' && selfBinding.length > 0) {
    return `threads: ${conf.threads} needs services that declare their listeners (listenerConfigs); ${selfBinding.join(', ')} binds its own sockets`;
  }
  try {
    await registry.prepare(declared, inherited);
  } catch (err) {
    o.logger.error({ err }, 'cannot listen');
    return errorMessage(err);
  }
  try {
    dropPrivileges({ user: conf.user, group: conf.group });
  } catch (err) {
    return errorMessage(err);
  }
  if (o.role === 'single') return services.listenAll(o.listenContext(registry));
  return startWorkers({ count: conf.threads, registry, channel: o.channel, logger: o.logger, confText: o.confText, daemon: o.daemonChild, errorLog: conf.error_log, onPool: o.onPool, onUnexpectedExit: o.onWorkerExit });
}
