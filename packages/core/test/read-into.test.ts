/**
 * `readInto` switches an accepted socket to reading into the caller's buffers through Node
 * internals; this checks, on real sockets, that it does on this Node.js and that the socket
 * then behaves as an `onread` socket: bytes in the given buffers, pause/resume, end, close.
 * (That the proxy's fast path uses it is tested in packages/proxy/test/internals-in-use.test.ts.)
 */
import * as net from 'node:net';
import { readInto, readIntoUnavailable } from '@pingora-ts/core/internal';
import { Resources, until } from '../../../test-support/resources';

const res = new Resources();
afterEach(() => res.closeAll());

/** A server whose accepted sockets go to `onSocket` in the tick they were accepted in. */
async function acceptWith(onSocket: (s: net.Socket) => void): Promise<number> {
  return (await res.netServer(onSocket)).port;
}

test('an accepted socket reads into the given buffers; pause, resume, end and close work', async () => {
  expect(readIntoUnavailable).toBeNull();
  const buffers = [Buffer.alloc(16), Buffer.alloc(16)];
  let next = 0;
  const reads: { text: string; intoGiven: boolean }[] = [];
  const events: string[] = [];
  let accepted!: net.Socket;
  let switched: boolean | null = null;
  const port = await acceptWith((s) => {
    accepted = s;
    switched = readInto(s, {
      buffer: () => buffers[next++ % 2] as Buffer,
      callback(this: net.Socket, nread: number, buf: Uint8Array) {
        expect(this).toBe(accepted);
        reads.push({ text: Buffer.from(buf.subarray(0, nread)).toString(), intoGiven: buffers.some((b) => b === buf) });
        return true;
      },
    });
    s.on('data', () => events.push('data'));
    s.on('end', () => events.push('end'));
    s.on('close', () => events.push('close'));
  });
  const c = res.socket(net.connect(port, '127.0.0.1'));
  await until(() => switched !== null, 2000, 'the connection');
  expect(switched).toBe(true);
  // A second switch of the same socket is refused.
  expect(readInto(accepted, { buffer: () => Buffer.alloc(1), callback: () => true })).toBe(false);

  c.write('hello');
  await until(() => reads.length === 1, 2000, 'the first read');
  accepted.pause();
  c.write('while paused');
  await new Promise((r) => setTimeout(r, 50));
  expect(reads).toHaveLength(1);
  accepted.resume();
  await until(() => reads.length === 2, 2000, 'the read after resume');
  // 16-byte buffers: a longer write arrives in several reads.
  c.end('0123456789abcdefghijklmnopqrstuvwxyz');
  await until(() => events.includes('close'), 2000, 'close');
  expect(reads.map((r) => r.text).join('')).toBe('hellowhile paused0123456789abcdefghijklmnopqrstuvwxyz');
  expect(reads.every((r) => r.intoGiven)).toBe(true);
  expect(reads.length).toBeGreaterThanOrEqual(4);
  expect(events).toEqual(['end', 'close']); // never 'data'
});

test('a destroyed socket is left alone', async () => {
  let result: boolean | null = null;
  const port = await acceptWith((s) => {
    s.destroy();
    result = readInto(s, { buffer: () => Buffer.alloc(16), callback: () => true });
  });
  res.socket(net.connect(port, '127.0.0.1')).on('error', () => {});
  await until(() => result !== null, 2000, 'the connection');
  expect(result).toBe(false);
});
