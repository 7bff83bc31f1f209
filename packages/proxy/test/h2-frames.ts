/**
 * Hand-built HTTP/2 frames for the attack tests (RFC 9113 §4, HPACK literals of RFC 7541), and
 * a raw connection that records what the server sent back (GOAWAY, RST_STREAM, HEADERS).
 */
import * as net from 'node:net';
import type { Resources } from './resources';

export const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');
export const T = { DATA: 0, HEADERS: 1, RST_STREAM: 3, SETTINGS: 4, PING: 6, GOAWAY: 7, WINDOW_UPDATE: 8, CONTINUATION: 9 } as const;
export const F = { END_STREAM: 1, ACK: 1, END_HEADERS: 4 } as const;

export function frame(type: number, flags: number, stream: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const head = Buffer.alloc(9);
  head.writeUIntBE(payload.length, 0, 3);
  head[3] = type;
  head[4] = flags;
  head.writeUInt32BE(stream & 0x7fffffff, 5);
  return Buffer.concat([head, payload]);
}

/** An HPACK integer with an `n`-bit prefix (`first` holds the pattern bits above it). */
function hpackInt(value: number, n: number, first: number): Buffer {
  const max = (1 << n) - 1;
  if (value < max) return Buffer.from([first | value]);
  const out = [first | max];
  let v = value - max;
  while (v >= 128) {
    out.push((v % 128) + 128);
    v = Math.floor(v / 128);
  }
  out.push(v);
  return Buffer.from(out);
}

/** A literal header field (`incremental`: added to the dynamic table), no Huffman. */
export function literal(name: string, value: string, incremental = false): Buffer {
  const n = Buffer.from(name, 'latin1');
  const v = Buffer.from(value, 'latin1');
  return Buffer.concat([Buffer.from([incremental ? 0x40 : 0x00]), hpackInt(n.length, 7, 0), n, hpackInt(v.length, 7, 0), v]);
}

/** An indexed header field (static 1-61, dynamic from 62). */
export function indexed(i: number): Buffer {
  return hpackInt(i, 7, 0x80);
}

/** `GET /` header block for `authority`. */
export function getBlock(path = '/', method = 'GET'): Buffer {
  return Buffer.concat([literal(':method', method), literal(':scheme', 'http'), literal(':path', path), literal(':authority', 'attack.test')]);
}

export function settings(entries: Array<[number, number]> = []): Buffer {
  const p = Buffer.alloc(entries.length * 6);
  entries.forEach(([id, v], i) => {
    p.writeUInt16BE(id, i * 6);
    p.writeUInt32BE(v, i * 6 + 2);
  });
  return frame(T.SETTINGS, 0, 0, p);
}

export function rst(stream: number, code: number): Buffer {
  const p = Buffer.alloc(4);
  p.writeUInt32BE(code);
  return frame(T.RST_STREAM, 0, stream, p);
}

/** A raw h2c connection that parses the server's frames. */
export class RawH2 {
  readonly socket: net.Socket;
  goaway: number | null = null;
  readonly resets = new Map<number, number>();
  headers = 0;
  dataBytes = 0;
  closed = false;
  received = 0;
  private buf = Buffer.alloc(0);

  constructor(res: Resources, port: number) {
    this.socket = res.socket(net.connect(port, '127.0.0.1'));
    this.socket.on('error', () => {});
    this.socket.on('close', () => (this.closed = true));
    this.socket.on('data', (d: Buffer) => this.onData(d));
  }

  connected(): Promise<void> {
    return new Promise((r) => this.socket.once('connect', () => r()));
  }

  /** Writes `data` (false when the socket is gone). */
  send(data: Buffer): boolean {
    if (this.socket.destroyed) return false;
    this.socket.write(data);
    return true;
  }

  /** Resolves once the socket drained (or closed). */
  drained(): Promise<void> {
    if (this.socket.destroyed || this.socket.writableLength === 0) return Promise.resolve();
    return new Promise((r) => {
      this.socket.once('drain', () => r());
      this.socket.once('close', () => r());
    });
  }

  private onData(d: Buffer): void {
    this.received += d.length;
    this.buf = Buffer.concat([this.buf, d]);
    while (this.buf.length >= 9) {
      const len = this.buf.readUIntBE(0, 3);
      if (this.buf.length < 9 + len) break;
      const type = this.buf[3] as number;
      const stream = this.buf.readUInt32BE(5) & 0x7fffffff;
      const payload = this.buf.subarray(9, 9 + len);
      if (type === T.GOAWAY) this.goaway = payload.readUInt32BE(4);
      else if (type === T.RST_STREAM) this.resets.set(stream, payload.readUInt32BE(0));
      else if (type === T.HEADERS) this.headers++;
      else if (type === T.DATA) this.dataBytes += len;
      else if (type === T.SETTINGS && (this.buf[4] as number) === 0) this.socket.write(frame(T.SETTINGS, F.ACK, 0));
      this.buf = this.buf.subarray(9 + len);
    }
  }
}
