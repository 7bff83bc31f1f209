/**
 * `readInto(socket, …)`: switches an accepted socket to reading into buffers the caller gives,
 * as `net.connect`'s public `onread` option does for sockets it creates.
 *
 * Why: Node allocates a new ArrayBuffer for every read of a socket and pushes it through the
 * stream machinery; at 30,000 requests a second those buffers were a large part of each
 * young-generation GC pause. The pool's upstream sockets avoid that with `onread`. Accepted
 * sockets are made by `net.Server`, which has no such option, so this sets on the socket
 * what `onread` would have set: three of its own symbols (`kBuffer`, `kBufferCb`,
 * `kBufferGen`, which every `net.Socket` carries from its constructor) and the handle's
 * `useUserBuffer`. From then on `pause()`, `resume()`, `'end'`, `'error'` and `'close'` work
 * as for any `onread` socket.
 *
 * Those are Node internals, so this is the only module that touches them: `readInto` returns
 * false (and the caller listens to `'data'`) when they are missing, and core's `test/read-into.test.ts`
 * checks the switched socket's behaviour on real sockets on Node 20, 22 and 24. It must run in
 * the tick the socket was accepted in, before its first read.
 */
import { Socket } from 'node:net';

/** Gives the buffer the next read goes into (called after each read, as `onread.buffer`). */
export type NextBuffer = () => Uint8Array;
/** `onread.callback`: `nread` bytes are in `buf`; called with the socket as `this`. */
export type ReadCallback = (this: Socket, nread: number, buf: Uint8Array) => boolean;

/** What `net.connect`'s `onread` takes, with `buffer` as a function (called without `this`). */
export interface ReadIntoOptions {
  buffer: NextBuffer;
  callback: ReadCallback;
}

interface ReadSymbols {
  buffer: symbol;
  callback: symbol;
  generator: symbol;
}

interface UserBufferHandle {
  useUserBuffer(buf: Uint8Array): void;
}

/** The symbols, looked up once on a socket without a handle (the constructor sets them on every socket). */
function findSymbols(): ReadSymbols | null {
  const own = Object.getOwnPropertySymbols(new Socket());
  const named = (name: string): symbol | undefined => own.find((s) => s.description === name);
  const buffer = named('kBuffer');
  const callback = named('kBufferCb');
  const generator = named('kBufferGen');
  if (buffer === undefined || callback === undefined || generator === undefined) return null;
  return { buffer, callback, generator };
}

const symbols = findSymbols();

/** Why `readInto` cannot switch sockets on this Node.js, or null when it can. */
export const readIntoUnavailable: string | null =
  symbols === null ? `net.Socket of Node.js ${process.version} has no kBuffer/kBufferCb/kBufferGen symbols` : null;

/**
 * Makes `socket` read into `onread.buffer()`'s buffers and call `onread.callback` instead of
 * emitting `'data'`. Returns false, changing nothing, where this Node.js does not allow it, or
 * for a socket that is not a plain, reading stream handle (a TLS socket, a closed one).
 */
export function readInto(socket: Socket, onread: ReadIntoOptions): boolean {
  if (symbols === null) return false;
  const handle = (socket as unknown as { _handle?: Partial<UserBufferHandle> | null })._handle;
  if (handle === null || handle === undefined || typeof handle.useUserBuffer !== 'function') return false;
  const tagged = socket as unknown as Record<symbol, unknown>;
  // Only a socket nobody switched yet (the constructor set all three to null).
  if (tagged[symbols.buffer] !== null || tagged[symbols.callback] !== null || tagged[symbols.generator] !== null) return false;
  const first = onread.buffer();
  tagged[symbols.buffer] = first;
  tagged[symbols.callback] = onread.callback;
  tagged[symbols.generator] = onread.buffer;
  handle.useUserBuffer(first);
  return true;
}
