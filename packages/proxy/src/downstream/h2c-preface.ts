/**
 * The HTTP/2 connection preface (RFC 9113 §3.4): a cleartext connection that starts with it
 * speaks h2c by prior knowledge. Only a connection's first bytes are checked, so HTTP/1.1
 * connections pay one comparison per connection, nothing per request.
 */
import type { Socket } from 'node:net';

export const H2C_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

/** The preface is whole in `bytes`. */
export const PREFACE_WHOLE = 1;
/** `bytes` are a beginning of the preface: more must be read to know. */
export const PREFACE_PARTIAL = 0;
/** Not the preface (HTTP/1.1, or anything else). */
export const PREFACE_NOT = -1;

/** Whether `bytes` start with the h2c preface (see the constants). */
export function prefaceMatch(bytes: Uint8Array): number {
  if (bytes.length === 0) return PREFACE_PARTIAL;
  if (bytes[0] !== 0x50 /* P */) return PREFACE_NOT;
  const n = Math.min(bytes.length, H2C_PREFACE.length);
  for (let i = 1; i < n; i++) if (bytes[i] !== H2C_PREFACE[i]) return PREFACE_NOT;
  return n === H2C_PREFACE.length ? PREFACE_WHOLE : PREFACE_PARTIAL;
}

/**
 * Reads a cleartext socket's first bytes (through `'data'`) until they tell whether the
 * connection starts with the preface, then calls `decided` with the answer and the bytes read.
 * The socket is left flowing; `decided` gives the bytes back (`unshift`) to whoever serves it.
 */
export function sniffPreface(socket: Socket, decided: (h2: boolean, bytes: Buffer) => void): void {
  let seen: Buffer | null = null;
  const onData = (chunk: Buffer): void => {
    seen = seen === null ? chunk : Buffer.concat([seen, chunk]);
    const m = prefaceMatch(seen);
    if (m === PREFACE_PARTIAL) return;
    socket.removeListener('data', onData);
    socket.removeListener('close', onClose);
    socket.removeListener('error', onError);
    // Left flowing: node:http pauses a socket it consumed through the 'pause' event, which a
    // socket paused already would never emit again (uploads then ran without backpressure).
    decided(m === PREFACE_WHOLE, seen);
  };
  const onClose = (): void => {
    socket.removeListener('data', onData);
    socket.removeListener('error', onError);
  };
  socket.on('data', onData);
  socket.on('close', onClose);
  socket.on('error', onError);
}

function onError(): void {
  // 'close' follows.
}
