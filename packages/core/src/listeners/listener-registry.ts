/**
 * The listening sockets of one process, by key (`listenerKey(addr)`), and the Listeners
 * opened on them. `ctx.openListener` goes through it, which is how the same service code
 * serves from a fresh bind (`threads: 1`), from the sockets its primary passed it (a worker),
 * or from sockets an old process handed over (an upgrade).
 *
 * - single process / primary: holds `BoundSocket`s (bound here or adopted from an upgrade)
 * - worker: holds the descriptors the primary passed at spawn (fd 4, 5, ...)
 */
import { randomBytes } from 'node:crypto';
import { closeSync } from 'node:fs';
import type { Logger } from '../logger';
import { BoundSocket } from './bound-socket';
import { listenOnDescriptor, parseListenerConfig, type ConnectionHandler, type Listener, type ListenerOptions } from './listener';
import { listenerKey, type ListenerConfig, type ListenerConfigInput } from './listener-config';
import type { TlsReloadResult } from './tls-certificates';

/** A socket handed over by another process: its key, its `addr`, and its descriptor here. */
export interface InheritedSocket {
  key: string;
  addr: string;
  fd: number;
}

export class ListenerRegistry {
  readonly #logger: Logger;
  /** Session ticket keys shared by every worker and passed on in upgrades. */
  readonly ticketKeys: Buffer;
  readonly #sockets = new Map<string, BoundSocket>();
  /** Worker only: descriptors passed by the primary. */
  readonly #inherited = new Map<string, number>();
  readonly #worker: boolean;
  readonly #listeners = new Map<string, Listener>();

  constructor(logger: Logger, opts: { ticketKeys?: Buffer; worker?: boolean } = {}) {
    this.#logger = logger;
    this.ticketKeys = opts.ticketKeys ?? randomBytes(48);
    this.#worker = opts.worker ?? false;
  }

  /** Worker side: the sockets the primary passed. */
  static forWorker(logger: Logger, inherited: InheritedSocket[], ticketKeys: Buffer): ListenerRegistry {
    const registry = new ListenerRegistry(logger, { ticketKeys, worker: true });
    for (const s of inherited) registry.#inherited.set(s.key, s.fd);
    return registry;
  }

  /**
   * Makes sure a socket exists for each of `configs`: one handed over (`inherited`) if its
   * key matches, else a fresh bind. Handed-over sockets no listener wants are closed (the new
   * conf dropped them). Rejects on the first bind error, after closing what it opened.
   */
  async prepare(configs: readonly ListenerConfig[], inherited: readonly InheritedSocket[] = []): Promise<void> {
    const wanted = new Map(configs.map((c) => [listenerKey(c.addr), c]));
    for (const s of inherited) {
      if (wanted.has(s.key) && !this.#sockets.has(s.key)) this.#sockets.set(s.key, BoundSocket.adopt(s.addr, s.fd));
      else closeFd(s.fd);
    }
    try {
      for (const [key, cfg] of wanted) {
        if (!this.#sockets.has(key)) this.#sockets.set(key, await BoundSocket.bind(cfg.addr, cfg.unix_mode));
      }
    } catch (err) {
      this.closeAll('startup-failed');
      throw err;
    }
  }

  /** The sockets held (single process or primary), in a stable order. */
  sockets(): BoundSocket[] {
    return [...this.#sockets.values()].filter((s) => !s.closed);
  }

  /** Opens a Listener on the socket for `cfg.addr` (see `ListenContext.openListener`). */
  async open(cfg: ListenerConfigInput, onConnection: ConnectionHandler, opts: ListenerOptions = {}): Promise<Listener> {
    const config = parseListenerConfig(cfg);
    const key = listenerKey(config.addr);
    if (this.#listeners.has(key)) throw new Error(`listener ${config.addr} is already open in this process`);
    const options = { logger: this.#logger, ...opts, ticketKeys: this.ticketKeys };
    let listener: Listener;
    if (this.#worker) {
      const fd = this.#inherited.get(key);
      if (fd === undefined) throw new Error(`listener ${config.addr} is not declared in the service's \`listeners\`; a worker can only open declared listeners`);
      listener = await listenOnDescriptor(config, fd, onConnection, options);
    } else {
      let socket = this.#sockets.get(key);
      if (!socket || socket.closed) {
        // Not declared: bound on demand, and still part of any later upgrade.
        socket = await BoundSocket.bind(config.addr, config.unix_mode);
        this.#sockets.set(key, socket);
      }
      listener = await listenOnDescriptor(config, socket.fd, onConnection, options);
      socket.markServed();
    }
    this.#listeners.set(key, listener);
    return listener;
  }

  /** The Listeners opened in this process. */
  listeners(): Listener[] {
    return [...this.#listeners.values()];
  }

  /** Re-reads the certificates of every TLS listener here (SIGHUP). */
  reloadTls(): TlsReloadResult[] {
    return this.listeners().map((l) => l.reload());
  }

  /** Stops every Listener here from accepting (their sockets stay open elsewhere). */
  async stopAccepting(): Promise<void> {
    await Promise.all(this.listeners().map((l) => l.stopAccepting()));
  }

  /**
   * Lets go of every socket and Listener, and removes Unix socket files as `how` says:
   * `'final'` all of ours; `'handed-over'` none (a new process serves them now);
   * `'startup-failed'` only those bound here (an old process still serves adopted ones).
   */
  closeAll(how: 'final' | 'handed-over' | 'startup-failed'): void {
    for (const l of this.#listeners.values()) void l.close();
    for (const s of this.#sockets.values()) s.close(how === 'final' || (how === 'startup-failed' && !s.adopted));
  }
}

function closeFd(fd: number): void {
  try {
    closeSync(fd);
  } catch {
    // already closed
  }
}
