/**
 * The new process's side of an upgrade: where its listening sockets come from when another
 * process had them. A SIGHUP's new generation reads them from IPC (see `generation.ts`);
 * `-u` waits on upgrade_sock until the old process, sent SIGQUIT, passes them over (see
 * `upgrade-socket.ts`). Otherwise there is nothing to take over and every socket is bound
 * anew.
 */
import type { InheritedSocket } from '../listeners/listener-registry';
import type { Logger } from '../logger';
import { FIRST_MESSAGE_TIMEOUT_MS, waitForParentMessage } from '../internal/wait-for-parent-message';
import { loadFdPassing } from './fd-passing';
import { isIpcHandoff, type HandoffHeader } from './handoff';
import { receiveListeners, type ReceivedHandoff } from './upgrade-socket';

export interface TakeOverOptions {
  /** Started by an old generation's SIGHUP: the sockets come over IPC. */
  handoffChild: boolean;
  /** Started with `-u`: wait on `upgradeSock`. */
  upgrade: boolean;
  upgradeSock: string;
  /** The old process runs as another user (`user`/`group` set), so upgrade_sock must be 0666. */
  sharedSock: boolean;
  /** Listening services that bind their own sockets: with any, `-u` has nothing to take over. */
  selfBinding: readonly string[];
  logger: Logger;
  /** Settles on SIGTERM / SIGINT: `-u` gives up waiting rather than start only to stop. */
  stopped: Promise<void>;
}

export interface TakeOver {
  /** What the old process sent, if there was one. */
  header?: HandoffHeader;
  /** The sockets taken over (none without an old process). */
  inherited: InheritedSocket[];
  /** `-u` only: answer the old process with it once serving, or failing. */
  received?: ReceivedHandoff;
}

/** Takes the sockets over from the old process, if there is one; rejects when that fails. */
export async function takeOverListeners(opts: TakeOverOptions): Promise<TakeOver> {
  if (opts.handoffChild) {
    const message = await waitForParentMessage(isIpcHandoff, FIRST_MESSAGE_TIMEOUT_MS, 'the old generation sent no listening sockets');
    return { header: message.header, inherited: message.header.listeners.map((l, i) => ({ ...l, fd: message.fds[i] ?? -1 })) };
  }
  if (!opts.upgrade) return { inherited: [] };
  if (opts.selfBinding.length > 0) throw new Error(`${opts.selfBinding.join(', ')} binds its own sockets (no listenerConfigs): there is nothing to take over`);
  // Say why at once, rather than ask the operator for a SIGQUIT that cannot work here.
  const fdPassing = await loadFdPassing();
  if (fdPassing instanceof Error) throw fdPassing;
  const sock = opts.upgradeSock;
  opts.logger.info({ upgrade_sock: sock }, 'waiting for the running server to hand its listening sockets over (send it SIGQUIT)');
  const waiting = receiveListeners(sock, opts.sharedSock ? 0o666 : 0o600);
  const received = await Promise.race([waiting, opts.stopped.then(() => undefined)]);
  if (received === undefined) {
    void waiting.then((r) => r.reply({ ok: false, message: 'the new process was stopped before it started' }), () => undefined);
    throw new Error('stopped while waiting for the old process');
  }
  const { header, fds } = received;
  return { header, inherited: header.listeners.map((l, i) => ({ ...l, fd: fds[i] ?? -1 })), received };
}
