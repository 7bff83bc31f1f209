/**
 * `sharedReads(readerOf)`: `onread` options that make sockets read into one shared buffer
 * instead of a new one per read. The pool's upstream sockets use it (`net.connect`'s `onread`)
 * and so does the proxy's fast downstream path (on accepted sockets, through `readInto`).
 *
 * Node would otherwise allocate a buffer (a new ArrayBuffer) per read and push it through the
 * stream machinery; with 30,000 requests a second those buffers were a third of each
 * young-generation GC pause. Sharing is safe because a read is handled synchronously, before
 * the next one can arrive: the reader copies whatever outlives the call (body chunks, held
 * bytes); `lent` tells it when it must.
 *
 * Copying a large body would cost more than it saves, so a reader in the middle of one
 * (`readsLarge()`) reads into a buffer of its own, and a large read there is handed on as it is
 * (`lent` false): the reader takes a new buffer for its next read. Small reads into it are lent
 * like shared ones (a 100-byte chunk must not keep 64 KiB alive while it waits to be written).
 */
import type { Socket } from 'node:net';

/** Size of every read buffer (Node's own read size). */
const READ_SIZE = 64 * 1024;
/** A read of at least this much into a reader's own buffer is handed on without a copy. */
export const OWN_READ_MIN = 16 * 1024;

/** A connection that reads through `sharedReads`. */
export interface SharedReader {
  /** Bytes from the socket; `lent`: valid during this call only (the buffer is read into again). */
  onRead(bytes: Buffer, lent: boolean): void;
  /** Whether the next read is likely part of a large body (it then goes to a buffer of the reader's own). */
  readsLarge(): boolean;
  /** @internal The reader's own read buffer, kept by `sharedReads`; start with null. */
  ownReadBuffer: Buffer | null;
}

/** `onread` options (`buffer`, `callback`) over one shared buffer. */
export interface SharedReadOptions {
  /** Called by Node after each `callback` (and once at the start): where the socket reads next. */
  buffer(): Uint8Array;
  /** Called by Node with the socket as `this`. Returns `true`: readers pause with `socket.pause()`. */
  callback(this: Socket, nread: number, buf: Uint8Array): boolean;
}

/**
 * Makes `onread` options for sockets whose reader `readerOf` finds. Bytes on a socket without
 * a reader make no sense to anybody: the socket is destroyed.
 */
export function sharedReads<R extends SharedReader>(readerOf: (socket: Socket) => R | undefined): SharedReadOptions {
  const shared = Buffer.allocUnsafeSlow(READ_SIZE);
  /** The reader whose read was just handled: Node asks for the next buffer right after. */
  let last: R | null = null;
  return {
    buffer(): Uint8Array {
      const reader = last;
      last = null;
      if (reader === null) return shared;
      if (!reader.readsLarge()) {
        reader.ownReadBuffer = null;
        return shared;
      }
      return (reader.ownReadBuffer ??= Buffer.allocUnsafeSlow(READ_SIZE));
    },
    callback(this: Socket, nread: number, buf: Uint8Array): boolean {
      const reader = readerOf(this);
      if (reader === undefined) {
        this.destroy();
        return true;
      }
      let lent = true;
      if (buf === reader.ownReadBuffer && nread >= OWN_READ_MIN) {
        reader.ownReadBuffer = null; // handed on with the read: the next one gets a new buffer
        lent = false;
      }
      reader.onRead((buf as Buffer).subarray(0, nread), lent);
      // Set after the read is handled: a socket that started reading meanwhile gets the shared buffer.
      last = reader;
      return true;
    },
  };
}
