/**
 * Pingora's upgrade over `upgrade_sock`, both halves:
 *
 * ```
 * new process (-u)                                old process (serving)
 *   listen on upgrade_sock, wait  <-- SIGQUIT: connect (5 tries, 1 s apart)
 *                                 <-- header line + listening fds (SCM_RIGHTS)
 *   adopt sockets, start serving
 *   --> {"ok":true,"pid":N}\n     --> stop accepting, drain (grace_period_seconds), exit
 * ```
 *
 * The listening sockets are never closed during the handoff: both processes hold them while
 * the new one starts, so connections queue in the kernel and one of the two accepts them.
 */
import { chmodSync, unlinkSync } from 'node:fs';
import type { USocket } from 'usocket';
import { errorMessage } from '../internal/error-message';
import { loadFdPassing } from './fd-passing';
import { isHandoffHeader, isHandoffReply, type HandoffHeader, type HandoffReply } from './handoff';

/** Pingora's retry: the old process tries to reach the new one this many times, 1 s apart. */
export const HANDOFF_CONNECT_TRIES = 5;
export const HANDOFF_CONNECT_INTERVAL_MS = 1000;
/** How long the old process waits for the new one to report it serves. */
export const HANDOFF_READY_TIMEOUT_MS = 60_000;
/** How long a process started with `-u` waits for an old one to hand its sockets over. */
export const UPGRADE_WAIT_MS = 60_000;

/** What the new process received; `reply` tells the old one how it went. */
export interface ReceivedHandoff {
  header: HandoffHeader;
  fds: number[];
  reply(reply: HandoffReply): Promise<void>;
}

/**
 * New process: waits on `path` for an old process to connect and send its sockets.
 * `mode` is the socket file's mode (0o666 when the old process runs as another user).
 */
export async function receiveListeners(path: string, mode: number, timeoutMs = UPGRADE_WAIT_MS): Promise<ReceivedHandoff> {
  const usocket = await loadFdPassing();
  if (usocket instanceof Error) throw usocket;
  try {
    unlinkSync(path); // a file left by an earlier upgrade; only ever a socket of ours
  } catch {
    // none
  }
  const server = new usocket.UServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => resolve());
  });
  chmodSync(path, mode);
  const cleanup = (): void => {
    server.close();
    try {
      unlinkSync(path);
    } catch {
      // already gone
    }
  };
  try {
    return await new Promise<ReceivedHandoff>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no running server handed its listening sockets over on ${path} within ${timeoutMs / 1000} s (send the old one SIGQUIT after starting this one)`)), timeoutMs);
      server.on('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
      server.on('connection', (socket) => {
        readHeader(socket).then(
          ({ header, fds }) => {
            clearTimeout(timer);
            server.close();
            resolve({ header, fds, reply: (reply) => writeReply(socket, reply).finally(cleanup) });
          },
          () => socket.destroy(), // not an old pingora-ts process; keep waiting
        );
      });
    });
  } catch (err) {
    cleanup();
    throw err;
  }
}

/**
 * Old process: connects to the waiting new process (retrying as Pingora does), sends the
 * header and the descriptors, and resolves the new process's reply. Rejects when nobody
 * waits on `path`, or the new process went away before it was ready.
 */
export async function sendListeners(path: string, header: HandoffHeader, fds: number[], opts: { tries?: number; intervalMs?: number; readyTimeoutMs?: number } = {}): Promise<HandoffReply> {
  const usocket = await loadFdPassing();
  if (usocket instanceof Error) throw usocket;
  const tries = opts.tries ?? HANDOFF_CONNECT_TRIES;
  let socket: USocket | undefined;
  let lastError = '';
  for (let attempt = 1; attempt <= tries && !socket; attempt++) {
    try {
      socket = await connectOnce(new usocket.USocket(), path);
    } catch (err) {
      lastError = errorMessage(err);
      if (attempt < tries) await new Promise((r) => setTimeout(r, opts.intervalMs ?? HANDOFF_CONNECT_INTERVAL_MS));
    }
  }
  if (!socket) throw new Error(`no new process is waiting on ${path} (${lastError}); start one with -u first`);
  const connected = socket;
  connected.write({ data: Buffer.from(`${JSON.stringify(header)}\n`), fds });
  const line = await readLine(connected, opts.readyTimeoutMs ?? HANDOFF_READY_TIMEOUT_MS).finally(() => connected.destroy());
  if (line === undefined) throw new Error('the new process went away before it was ready');
  const reply: unknown = JSON.parse(line);
  if (!isHandoffReply(reply)) throw new Error('the new process sent an unreadable reply');
  return reply;
}

function connectOnce(socket: USocket, path: string): Promise<USocket> {
  return new Promise<USocket>((resolve, reject) => {
    socket.once('error', reject);
    socket.connect(path, () => {
      socket.off('error', reject);
      resolve(socket);
    });
  });
}

async function readHeader(socket: USocket): Promise<{ header: HandoffHeader; fds: number[] }> {
  const fds: number[] = [];
  socket.on('fds', (received) => fds.push(...received));
  const line = await readLine(socket, 10_000);
  const header: unknown = line === undefined ? undefined : JSON.parse(line);
  if (!isHandoffHeader(header) || header.listeners.length !== fds.length) throw new Error('not a pingora-ts handoff');
  return { header, fds };
}

/** The first line the socket sends, or `undefined` if it closes (or `ms` passes) first. */
function readLine(socket: USocket, ms: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    let buffered = '';
    const timer = setTimeout(() => resolve(undefined), ms);
    socket.on('data', (chunk) => {
      buffered += chunk.toString('utf8');
      const nl = buffered.indexOf('\n');
      if (nl >= 0) {
        clearTimeout(timer);
        resolve(buffered.slice(0, nl));
      }
    });
    socket.on('error', () => {
      clearTimeout(timer);
      resolve(undefined);
    });
    socket.on('end', () => {
      clearTimeout(timer);
      resolve(undefined);
    });
  });
}

function writeReply(socket: USocket, reply: HandoffReply): Promise<void> {
  return new Promise<void>((resolve) => {
    socket.write({ data: Buffer.from(`${JSON.stringify(reply)}\n`), callback: () => resolve() });
    setTimeout(resolve, 1000).unref(); // the old process may be gone; do not hang on it
  }).finally(() => socket.end());
}
