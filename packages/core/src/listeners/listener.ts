/**
 * A `Listener` accepts connections on one listening socket and hands each one, as a plain
 * `net.Socket` or (once the handshake is done) a `tls.TLSSocket`, to the service's
 * `onConnection`. Where the socket came from (a fresh bind, a descriptor inherited in an
 * upgrade, the primary of a worker pool) is core's business; the service code is the same.
 *
 * The accepted connections belong to the service: it keeps them, closes them, and drains
 * them on shutdown. The Listener only stops or starts taking new ones.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type Server as NetServer, type Socket } from 'node:net';
import { createServer as createTlsServer, type Server as TlsServer, type TLSSocket } from 'node:tls';
import { silentLogger, type Logger } from '../logger';
import type { BoundAddress } from '../service';
import { requireServerHandles } from '../internal/node/node-handles';
import { BoundSocket } from './bound-socket';
import { duplicateDescriptor } from './duplicate-descriptor';
import { listenerConfigSchema, type ListenerConfig, type ListenerConfigInput } from './listener-config';
import { TlsCertificates, type TlsReloadResult } from './tls-certificates';

/** Called once per accepted connection: a `TLSSocket` after its handshake on a TLS listener. */
export type ConnectionHandler = (socket: Socket | TLSSocket) => void;

export interface ListenerOptions {
  /** Where accept errors, TLS handshake failures (debug) and certificate reloads are logged. */
  logger?: Logger;
  /**
   * The ALPN protocols the service can serve. When given, a `tls.alpn` entry outside it makes
   * opening fail, so a listener never advertises what nobody behind it speaks.
   */
  alpnServed?: readonly string[];
  /** Disable Nagle's algorithm on accepted sockets (default true). */
  noDelay?: boolean;
  /** Re-read TLS certificates when their files change (default true). */
  watchCertificates?: boolean;
  /**
   * Accept handles on the listening socket (default 4). libuv accepts one connection per handle
   * per event-loop turn, and a turn of a busy process lasts milliseconds: with one handle, a
   * burst of new connections waits in the kernel's queue. Each extra handle is on a duplicate
   * of the socket's descriptor (made through usocket; without it there is one handle). The
   * price: a new connection wakes every handle, and all but one find nothing to accept.
   */
  acceptHandles?: number;
}

/** See `ListenerOptions.acceptHandles`. */
export const DEFAULT_ACCEPT_HANDLES = 4;

/** The servers on duplicate descriptors, of every listener in this process. */
const extraHandles = new Set<NetServer>();

/**
 * Closes every listener's extra accept handles (each keeps its first one). Called before this
 * process starts a child that inherits its descriptors (the SIGHUP upgrade): usocket receives
 * the duplicates without close-on-exec, so the child would inherit them too, and a listener
 * the new conf drops would stay open in it, taking connections nobody answers.
 */
export function dropExtraAcceptHandles(): void {
  for (const server of extraHandles) if (server.listening) server.close();
  extraHandles.clear();
}

export interface Listener {
  /** The listener's settings, defaults filled. */
  readonly config: ListenerConfig;
  /** The listening socket's descriptor in this process (what an upgrade hands over). */
  readonly fd: number;
  /** Where it is bound; the real port when `:0` was asked for. */
  address(): BoundAddress;
  /**
   * Stops taking new connections. This process lets go of its descriptor; the socket itself
   * stays open, and connections keep queueing, while another process (a worker, a new
   * generation) still accepts on it. Open connections are untouched. Idempotent.
   */
  stopAccepting(): Promise<void>;
  /** `stopAccepting()`, stops watching certificate files, and (standalone only) removes a Unix socket file. */
  close(): Promise<void>;
  /** Re-reads the TLS certificates now; `'unchanged'` on a plain listener. */
  reload(): TlsReloadResult;
}

/** Internal options: what core passes when it opens a listener on a socket it manages. */
export interface DescriptorListenerOptions extends ListenerOptions {
  ticketKeys?: Buffer;
  /** Set when this Listener owns its socket (standalone `openListener`): closing removes a Unix socket file. */
  owned?: BoundSocket;
}

class SocketListener implements Listener {
  readonly config: ListenerConfig;
  readonly fd: number;
  /** One server per accept handle: the first on `fd`, the others on duplicates of it. */
  readonly #servers: ReadonlyArray<NetServer | TlsServer>;
  readonly #certs: TlsCertificates | undefined;
  readonly #owned: BoundSocket | undefined;
  #stopped: Promise<void> | undefined;

  constructor(config: ListenerConfig, fd: number, servers: ReadonlyArray<NetServer | TlsServer>, certs: TlsCertificates | undefined, owned: BoundSocket | undefined) {
    this.config = config;
    this.fd = fd;
    this.#servers = servers;
    this.#certs = certs;
    this.#owned = owned;
  }

  address(): BoundAddress {
    const a = (this.#servers[0] as NetServer).address();
    if (a === null || typeof a === 'string') return { kind: 'unix', path: a ?? this.config.addr.replace(/^unix:/, '') };
    return { kind: 'tcp', host: a.address, port: a.port };
  }

  stopAccepting(): Promise<void> {
    this.#stopped ??= new Promise<void>((resolve) => {
      // close() stops accepting at once (closing a duplicate's descriptor too); its callback
      // would wait for the service's connections.
      for (const server of this.#servers) if (server.listening) server.close();
      setImmediate(resolve);
    });
    return this.#stopped;
  }

  async close(): Promise<void> {
    await this.stopAccepting();
    if (this.#certs) {
      for (const server of this.#servers) this.#certs.detach(server as TlsServer);
      this.#certs.close();
    }
    this.#owned?.close(true);
  }

  reload(): TlsReloadResult {
    return this.#certs ? this.#certs.reload() : 'unchanged';
  }
}

/**
 * Opens a listener on a fresh socket bound to `cfg.addr`, outside any `Server`: for programs
 * and tests that want core's listeners (TLS with SNI and reloads, Unix sockets) on their own.
 * Services run by a `Server` use `ctx.openListener` instead, which reuses the sockets core
 * holds (workers, upgrades). Rejects on a bind error or unusable certificates.
 */
export async function openListener(cfg: ListenerConfigInput, onConnection: ConnectionHandler, opts: ListenerOptions = {}): Promise<Listener> {
  requireServerHandles();
  const config = parseListenerConfig(cfg);
  const bound = await BoundSocket.bind(config.addr, config.unix_mode);
  try {
    return await listenOnDescriptor(config, bound.fd, onConnection, { ...opts, owned: bound });
  } catch (err) {
    bound.close(true);
    throw err;
  }
}

/** Validates and fills defaults, throwing a TypeError that names the bad key. */
export function parseListenerConfig(cfg: ListenerConfigInput): ListenerConfig {
  const parsed = listenerConfigSchema.safeParse(cfg);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const where = (issue?.path ?? []).map(String).join('.');
  throw new TypeError(`invalid listener ${JSON.stringify(cfg.addr)}: ${where ? `${where}: ` : ''}${issue?.message ?? 'invalid'}`);
}

/** Starts accepting on `fd` (a bound or listening socket). Core's registry and `openListener` both end here. */
export async function listenOnDescriptor(config: ListenerConfig, fd: number, onConnection: ConnectionHandler, opts: DescriptorListenerOptions): Promise<Listener> {
  const logger = opts.logger ?? silentLogger;
  const label = config.addr;
  // No `tls.alpn`: offer what the service serves.
  if (config.tls && config.tls.alpn === undefined) config = { ...config, tls: { ...config.tls, alpn: [...(opts.alpnServed ?? ['http/1.1'])] } };
  if (config.tls?.alpn && opts.alpnServed) {
    const extra = config.tls.alpn.filter((p) => !opts.alpnServed?.includes(p));
    if (extra.length > 0) throw new Error(`listener ${label}: tls.alpn offers ${extra.join(', ')}, which this service does not serve (it serves ${opts.alpnServed.join(', ')})`);
  }
  const noDelay = opts.noDelay ?? true;
  let certs: TlsCertificates | undefined;
  if (config.tls) {
    // One set of ticket keys for every accept handle (each tls.Server would make its own), so a
    // session resumes whichever handle accepts the client's next connection.
    const certOpts = { logger, label, watch: opts.watchCertificates ?? true, ticketKeys: opts.ticketKeys ?? randomBytes(48) };
    certs = new TlsCertificates(config.tls, certOpts);
  }
  const makeServer = (): NetServer | TlsServer => {
    if (!certs) return createServer({ noDelay }, onConnection);
    const tlsServer = createTlsServer({ ...certs.serverOptions(), noDelay });
    tlsServer.on('secureConnection', onConnection);
    tlsServer.on('tlsClientError', (err, socket) => {
      logger.debug({ listener: label, err, client: socket.remoteAddress }, 'TLS handshake failed');
      socket.destroy();
    });
    certs.attach(tlsServer);
    return tlsServer;
  };
  const servers: Array<NetServer | TlsServer> = [];
  try {
    const first = makeServer();
    await listenOn(first, fd);
    servers.push(first);
  } catch (err) {
    certs?.close();
    throw err;
  }
  for (const dup of await duplicateDescriptor(fd, (opts.acceptHandles ?? DEFAULT_ACCEPT_HANDLES) - 1)) {
    const server = makeServer();
    try {
      await listenOn(server, dup);
      servers.push(server);
      extraHandles.add(server);
      server.once('close', () => extraHandles.delete(server));
    } catch (err) {
      // One handle fewer; the listener works all the same. The descriptor is not closed here:
      // whether Node already took it (and closed it) depends on where listening failed.
      if (certs) certs.detach(server as TlsServer);
      logger.debug({ listener: label, err }, 'extra accept handle failed');
    }
  }
  // Accept errors (EMFILE, ...) must not crash the process; the listener keeps going.
  for (const server of servers) server.on('error', (err) => logger.error({ listener: label, err }, 'accept failed'));
  opts.owned?.markServed();
  return new SocketListener(config, fd, servers, certs, opts.owned);
}

function listenOn(server: NetServer, fd: number): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ fd }, () => {
      server.off('error', reject);
      resolve();
    });
  });
}
