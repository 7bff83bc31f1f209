/**
 * The old process's side of an upgrade: hands its listening sockets to the next process and
 * resolves that process's reply. SIGQUIT passes them over upgrade_sock to a process started
 * with `-u` (needs the usocket addon); SIGHUP starts the next generation itself, which
 * inherits them (needs nothing native).
 */
import { childStdio } from '../internal/child-stdio';
import type { BoundSocket } from '../listeners/bound-socket';
import type { Logger } from '../logger';
import type { JsonValue } from '../state-channel';
import { spawnGeneration } from './generation';
import { handoffHeader, type HandoffReply } from './handoff';
import { sendListeners } from './upgrade-socket';

export interface HandOverOptions {
  sockets: readonly BoundSocket[];
  ticketKeys: Buffer;
  /** SIGQUIT: where the `-u` process waits. */
  upgradeSock: string;
  /** SIGHUP: this process is a daemon, so the next generation is one too (stderr to `errorLog`). */
  daemon: boolean;
  errorLog: string | undefined;
  logger: Logger;
  /** The `StateChannel.carry` values, taken just before the handoff (either signal). */
  carried(): Promise<Record<string, JsonValue>>;
}

/**
 * Resolves the new process's reply (`ok: false` when it failed to start). Rejects when the
 * handoff itself failed: nobody waits on upgrade_sock, or descriptor passing is unavailable.
 */
export async function handOverListeners(signal: 'SIGQUIT' | 'SIGHUP', opts: HandOverOptions): Promise<HandoffReply> {
  if (signal === 'SIGQUIT') {
    return sendListeners(opts.upgradeSock, handoffHeader(opts.sockets, opts.ticketKeys, await opts.carried()), opts.sockets.map((s) => s.fd));
  }
  const stdio = childStdio({ daemon: opts.daemon, errorLog: opts.errorLog, logger: opts.logger });
  try {
    return await spawnGeneration({ sockets: opts.sockets, ticketKeys: opts.ticketKeys, carried: await opts.carried(), daemon: opts.daemon, stdout: stdio.stdout, stderr: stdio.stderr });
  } finally {
    stdio.release();
  }
}
