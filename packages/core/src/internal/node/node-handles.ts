/**
 * The Node internal core's listeners lean on: `net._createServerHandle`, the function `node:cluster`
 * itself uses to bind a listening socket in its primary without accepting on it.
 *
 * Why: a primary (or an old process during an upgrade) must hold listening sockets that its
 * workers accept on, without accepting itself. Every public way to bind (`net.Server.listen`)
 * also starts accepting. `_createServerHandle` binds a TCP or Unix socket and returns the raw
 * libuv handle (its `fd` is what workers and new processes receive); nobody calls `listen()`
 * on it in this process, so this process never takes a connection from the queue.
 * It exists, with this signature, in Node 20, 22 and 24 (cluster's shared_handle.js calls it).
 * There is no fallback: without it `createServerHandleUnavailable` says so, and a server or
 * listener that would bind fails at start with that one line (`requireServerHandles`).
 */
import * as net from 'node:net';
import { getSystemErrorMap, getSystemErrorName } from 'node:util';

/** The raw handle (a TCPWrap or PipeWrap) `_createServerHandle` returns. */
export interface RawServerHandle {
  /** The socket's file descriptor. */
  readonly fd: number;
  close(callback?: () => void): void;
  /** Fills `out` with `{ address, family, port }` (TCP only); returns a libuv error code or 0. */
  getsockname?(out: { address?: string; family?: string; port?: number }): number;
}

type CreateServerHandle = (address: string | null, port: number | null, addressType: number | null, fd?: number | null, flags?: number) => RawServerHandle | number;

/** Looked up once, at load. */
const createHandle = (net as unknown as { _createServerHandle?: unknown })._createServerHandle;

/** Why listeners cannot bind on this Node.js (no fallback: `requireServerHandles` throws it), or null. */
export const createServerHandleUnavailable: string | null =
  typeof createHandle === 'function' ? null : `Node.js ${process.version} has no net._createServerHandle: pingora-ts listeners cannot bind (see @pingora-ts/core docs/node-internals.md)`;

/**
 * Throws the one-line reason when listeners cannot bind here. Called where a server or a
 * listener starts, before anything is bound, so the failure is a startup error, not a bind error.
 */
export function requireServerHandles(): void {
  if (createServerHandleUnavailable !== null) throw new Error(createServerHandleUnavailable);
}

function createServerHandle(): CreateServerHandle {
  requireServerHandles();
  return createHandle as CreateServerHandle;
}

/** An Error shaped like Node's own socket errors: `listen EADDRINUSE: address already in use 127.0.0.1:80`. */
export function uvError(errno: number, syscall: string, where: string): NodeJS.ErrnoException {
  const code = getSystemErrorName(errno);
  const text = getSystemErrorMap().get(errno)?.[1] ?? 'unknown error';
  return Object.assign(new Error(`${syscall} ${code}: ${text} ${where}`), { code, errno, syscall });
}

/** Binds (without listening) a TCP socket; `family` 6 binds an IPv6 address. Throws on a bind error. */
export function bindTcpHandle(host: string, port: number, family: 4 | 6): RawServerHandle {
  const where = family === 6 ? `[${host}]:${port}` : `${host}:${port}`;
  const handle = createServerHandle()(host, port, family);
  if (typeof handle === 'number') throw uvError(handle, 'listen', where);
  // libuv defers EADDRINUSE from bind() to listen(), which happens later (in a worker, or
  // never here): a socket left unbound would listen on a random port. An unbound socket
  // reports port 0, so check the port now.
  const out: { port?: number } = {};
  const err = handle.getsockname?.(out) ?? 0;
  if (err !== 0 || out.port === undefined || out.port === 0 || (port !== 0 && out.port !== port)) {
    handle.close();
    throw uvError(getSystemErrorCode('EADDRINUSE'), 'listen', where);
  }
  return handle;
}

/** The (negative) libuv errno of `code`, as the error map knows it. */
function getSystemErrorCode(code: string): number {
  for (const [errno, [name]] of getSystemErrorMap()) if (name === code) return errno;
  return -98;
}

/** Binds (without listening) a Unix stream socket at `path`. Throws on a bind error. */
export function bindUnixHandle(path: string): RawServerHandle {
  const handle = createServerHandle()(path, -1, -1);
  if (typeof handle === 'number') throw uvError(handle, 'listen', path);
  return handle;
}

/** Wraps a listening socket descriptor received from another process (no bind, no listen). */
export function adoptHandle(fd: number): RawServerHandle {
  const handle = createServerHandle()(null, null, null, fd);
  if (typeof handle === 'number') throw uvError(handle, 'listen', `fd ${fd}`);
  return handle;
}
