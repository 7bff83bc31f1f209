/**
 * A listening socket this process holds without accepting on it: the thing a primary hands
 * to its workers, and an old process hands to a new one during an upgrade.
 *
 * It comes from a fresh bind (`BoundSocket.bind`) or from a descriptor another process gave
 * us (`BoundSocket.adopt`). Accepting is done by a `Listener` on the same descriptor (in this
 * process when `threads: 1`, else in the workers): once one has taken it over, closing the
 * descriptor is the Listener's job (`markServed`).
 *
 * Unix sockets are bound under a temporary name and renamed into place. That makes replacing
 * a stale socket file atomic (there is no moment without a socket at the path), and it keeps
 * libuv from unlinking the real path when this process closes its copy: libuv unlinks the name
 * a pipe was bound to, which by then no longer exists, so a new process that took the socket
 * over keeps serving at the path.
 */
import { chmodSync, lstatSync, renameSync, statSync, unlinkSync } from 'node:fs';
import { lookup } from 'node:dns/promises';
import { connect } from 'node:net';
import { forgetInheritableFd, noteInheritableFd } from '../internal/process-role';
import { adoptHandle, bindTcpHandle, bindUnixHandle, type RawServerHandle } from '../internal/node/node-handles';
import type { BoundAddress } from '../service';
import { listenerKey, parseListenAddr, type ListenTarget } from './listener-config';

/** How long a probe connect to an existing Unix socket file may take before it counts as stale. */
const PROBE_TIMEOUT_MS = 500;

export class BoundSocket {
  /** `listenerKey(addr)`: how an upgrade matches this socket to a listener. */
  readonly key: string;
  /** The `addr` it was bound or adopted for. */
  readonly addr: string;
  readonly target: ListenTarget;
  readonly #handle: RawServerHandle;
  readonly #fd: number;
  readonly #adopted: boolean;
  /** Inode of a Unix socket file we put in place, so we only ever remove our own. */
  readonly #ino: number | undefined;
  #state: 'held' | 'served' | 'closed' = 'held';

  private constructor(addr: string, target: ListenTarget, handle: RawServerHandle, adopted: boolean, ino: number | undefined) {
    this.key = listenerKey(addr);
    this.addr = addr;
    this.target = target;
    this.#fd = handle.fd;
    this.#handle = handle;
    this.#adopted = adopted;
    this.#ino = ino;
  }

  /** Binds `addr` (not listening yet: the first Listener on it listens). Rejects on a bind error. */
  static async bind(addr: string, unixMode?: number): Promise<BoundSocket> {
    const target = parseListenAddr(addr);
    if (target.kind === 'unix') {
      const { handle, ino } = await bindUnix(target.path, unixMode);
      return new BoundSocket(addr, target, handle, false, ino);
    }
    let { host, family } = target;
    if (family === 0) {
      const found = await lookup(host);
      host = found.address;
      family = found.family === 6 ? 6 : 4;
    }
    const handle = bindTcpHandle(host, target.port, family);
    return new BoundSocket(addr, target, handle, false, undefined);
  }

  /** Takes ownership of a listening socket descriptor received from another process. */
  static adopt(addr: string, fd: number): BoundSocket {
    const target = parseListenAddr(addr);
    let ino: number | undefined;
    if (target.kind === 'unix') {
      try {
        ino = statSync(target.path).ino;
      } catch {
        ino = undefined;
      }
    }
    noteInheritableFd(fd);
    return new BoundSocket(addr, target, adoptHandle(fd), true, ino);
  }

  get fd(): number {
    return this.#fd;
  }

  /** True for a socket received from another process (it may still serve it). */
  get adopted(): boolean {
    return this.#adopted;
  }

  get closed(): boolean {
    return this.#state === 'closed';
  }

  /** Where the socket is bound (the real port when 0 was asked for, if this process bound it). */
  address(): BoundAddress {
    if (this.target.kind === 'unix') return { kind: 'unix', path: this.target.path };
    const out: { address?: string; port?: number } = {};
    if (this.#handle.getsockname && this.#handle.getsockname(out) === 0 && out.address !== undefined && out.port !== undefined) {
      return { kind: 'tcp', host: out.address, port: out.port };
    }
    return { kind: 'tcp', host: this.target.host, port: this.target.port };
  }

  /** A Listener in this process now accepts on this descriptor and will close it. */
  markServed(): void {
    if (this.#state === 'held') this.#state = 'served';
  }

  /**
   * Lets go of the socket. `unlink`: also remove the Unix socket file, if it is still ours
   * (never during an upgrade: the new process serves at that path).
   */
  close(unlink = false): void {
    if (this.#state === 'closed') return;
    if (this.#state === 'held') this.#handle.close();
    if (this.#adopted) forgetInheritableFd(this.#fd);
    this.#state = 'closed';
    if (unlink && this.target.kind === 'unix') removeIfOurs(this.target.path, this.#ino);
  }
}

async function bindUnix(path: string, mode: number | undefined): Promise<{ handle: RawServerHandle; ino: number }> {
  await ensureNotInUse(path);
  // Short and in the same directory, so the rename is atomic and fits sun_path.
  const tmp = `${path}.${process.pid}`;
  closeStale(tmp);
  const handle = bindUnixHandle(tmp);
  try {
    if (mode !== undefined) chmodSync(tmp, mode);
    renameSync(tmp, path);
    return { handle, ino: statSync(path).ino };
  } catch (err) {
    handle.close();
    closeStale(tmp);
    throw err;
  }
}

/**
 * A socket file left at `path` is replaced only when nothing answers a connect on it; a live
 * server there is an "address in use" error, and a file that is not a socket is never touched.
 */
async function ensureNotInUse(path: string): Promise<void> {
  let isSocket: boolean;
  try {
    isSocket = lstatSync(path).isSocket();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  if (!isSocket) throw Object.assign(new Error(`listen EEXIST: ${path} exists and is not a socket (not removing it)`), { code: 'EEXIST' });
  const answered = await new Promise<boolean>((resolve) => {
    const probe = connect(path);
    const done = (alive: boolean): void => {
      clearTimeout(timer);
      probe.destroy();
      resolve(alive);
    };
    // A server too busy to accept in time is still a server: only a refusal means stale.
    const timer = setTimeout(() => done(true), PROBE_TIMEOUT_MS);
    probe.once('connect', () => done(true));
    probe.once('error', (err: NodeJS.ErrnoException) => done(err.code !== 'ECONNREFUSED' && err.code !== 'ENOENT'));
  });
  if (answered) throw Object.assign(new Error(`listen EADDRINUSE: address already in use ${path}`), { code: 'EADDRINUSE' });
}

function closeStale(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // nothing there
  }
}

function removeIfOurs(path: string, ino: number | undefined): void {
  try {
    if (ino !== undefined && statSync(path).ino === ino) unlinkSync(path);
  } catch {
    // already gone
  }
}
