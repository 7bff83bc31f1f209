/**
 * The primary's start (`threads` > 1): start the worker pool on the bound sockets and wait
 * until every worker listens. Workers write where this process does (a daemon's: error_log).
 */
import { childStdio } from '../internal/child-stdio';
import { errorMessage } from '../internal/error-message';
import type { ListenerRegistry } from '../listeners/listener-registry';
import type { Logger } from '../logger';
import type { WorkerExit } from '../server-options';
import type { StateChannel } from '../state-channel';
import { WorkerPool } from './worker-pool';

export interface StartWorkersOptions {
  count: number;
  registry: ListenerRegistry;
  channel: StateChannel;
  logger: Logger;
  confText: string | undefined;
  daemon: boolean;
  errorLog: string | undefined;
  /** Receives the pool as soon as it exists, so a stop during the start reaches the workers. */
  onPool(pool: WorkerPool): void;
  onUnexpectedExit?(exit: WorkerExit): void;
}

/** Resolves `undefined` once every worker serves, or the failure's message (the pool is stopped then). */
export async function startWorkers(o: StartWorkersOptions): Promise<string | undefined> {
  const { registry, logger } = o;
  const stdio = childStdio({ daemon: o.daemon, errorLog: o.errorLog, logger });
  const pool = new WorkerPool({ count: o.count, sockets: registry.sockets(), ticketKeys: registry.ticketKeys, channel: o.channel, logger, confText: o.confText, stdout: stdio.stdout, stderr: stdio.stderr, onUnexpectedExit: o.onUnexpectedExit });
  o.onPool(pool);
  try {
    await pool.start();
    logger.info({ workers: pool.pids(), addresses: registry.sockets().map((s) => s.address()) }, 'workers listening');
    return undefined;
  } catch (err) {
    await pool.shutdown(false, 0);
    return errorMessage(err);
  } finally {
    stdio.release();
  }
}
