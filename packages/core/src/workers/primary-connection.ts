/**
 * A worker's side of `threads: N` (the primary's side is `WorkerPool`): its IPC channel to
 * the primary. It says hello, takes the init message (sockets, ticket keys, current state),
 * carries StateChannel publishes both ways, and turns a `shutdown` message, or a primary
 * that is gone, into a stop request.
 */
import { ListenerRegistry } from '../listeners/listener-registry';
import type { Logger } from '../logger';
import { FIRST_MESSAGE_TIMEOUT_MS, waitForParentMessage } from '../internal/wait-for-parent-message';
import type { BoundAddress } from '../service';
import type { StateChannel } from '../state-channel';
import { isPrimaryMessage, type InitMessage, type WorkerMessage } from './worker-messages';

export interface PrimaryConnectionOptions {
  workerId: number;
  logger: Logger;
  channel: StateChannel;
  /** The primary asked for a stop (`timeoutMs` is its drain timeout) or is gone (graceful, no timeout). */
  onStop(graceful: boolean, timeoutMs: number | undefined): void;
}

export class PrimaryConnection {
  readonly #opts: PrimaryConnectionOptions;
  /** Without its primary nobody would stop this worker: drain and exit. */
  readonly #onDisconnect = (): void => {
    this.#opts.logger.warn({ worker: this.#opts.workerId }, 'primary is gone; shutting down');
    this.#opts.onStop(true, undefined);
  };

  /** Starts watching for the primary going away, so a stop is never missed, even during init. */
  constructor(opts: PrimaryConnectionOptions) {
    this.#opts = opts;
    process.on('disconnect', this.#onDisconnect);
  }

  /**
   * Waits for the primary's init message; resolves a registry of the sockets it passed,
   * with the channel already holding the primary's state. Rejects after 15 s without one.
   */
  async init(): Promise<ListenerRegistry> {
    const { channel, logger } = this.#opts;
    const init = await waitForParentMessage((m): m is InitMessage => isPrimaryMessage(m) && m.pingora === 'init', FIRST_MESSAGE_TIMEOUT_MS, 'the primary sent no init message');
    const registry = ListenerRegistry.forWorker(logger, init.listeners, Buffer.from(init.ticketKeys, 'base64'));
    for (const [topic, payload] of Object.entries(init.state)) channel.deliver(topic, payload);
    channel.setUpstream((topic, payload) => this.#send({ pingora: 'publish', topic, payload }));
    process.on('message', (m: unknown) => {
      if (!isPrimaryMessage(m)) return;
      if (m.pingora === 'state') channel.deliver(m.topic, m.payload);
      else if (m.pingora === 'reload-tls') registry.reloadTls();
      else if (m.pingora === 'shutdown') this.#opts.onStop(m.graceful, m.timeoutMs);
      else if (m.pingora === 'ask') this.#answer(m.id, m.topic);
    });
    return registry;
  }

  /** Tells the primary this worker serves (it waits for every worker before it runs). */
  ready(addresses: BoundAddress[]): void {
    this.#send({ pingora: 'ready', addresses });
  }

  /** Tells the primary this worker cannot start; the primary's startup fails with `message`. */
  failed(message: string): void {
    this.#send({ pingora: 'failed', message });
  }

  /** Stops listening to the primary; the IPC channel no longer holds the worker's event loop, so its run can end the process. */
  close(): void {
    process.off('disconnect', this.#onDisconnect);
    process.channel?.unref();
  }

  /** Answers the primary's question `id` from the channel's answerer. */
  #answer(id: number, topic: string): void {
    this.#opts.channel.answerLocally(topic).then(
      (payload) => this.#send(payload === undefined ? { pingora: 'answer', id } : { pingora: 'answer', id, payload }),
      (err: unknown) => this.#send({ pingora: 'answer', id, error: err instanceof Error ? err.message : String(err) }),
    );
  }

  #send(message: WorkerMessage): void {
    if (process.connected) process.send?.(message);
  }
}
