/**
 * Core's Node internals, one test each on real sockets (llhttp and readInto have their own
 * files: llhttp.test.ts, read-into.test.ts): the `nodeInternals()` table, `sharedReads` on
 * connecting and accepted sockets, and `net._createServerHandle` (bind, listen elsewhere,
 * accept), including the one-line startup error when a Node.js lacks it. CI runs this on
 * Node 20, 22 and 24 (scripts/node-matrix.sh).
 */
import { once } from 'node:events';
import * as net from 'node:net';
import { join } from 'node:path';
import type { BoundAddress, ListeningService, Logger } from '@pingora-ts/core';
import {
  OWN_READ_MIN,
  bindTcpHandle,
  bindUnixHandle,
  createServerHandleUnavailable,
  llhttpUnavailable,
  nodeInternals,
  readInto,
  readIntoUnavailable,
  sharedReads,
  type RawServerHandle,
  type SharedReader,
} from '@pingora-ts/core/internal';
import { Resources, until } from '../../../test-support/resources';
import { cleanup, tempDir } from './helpers';

const res = new Resources();
afterEach(async () => {
  await res.closeAll();
  cleanup();
});

test('nodeInternals(): every internal, available on this Node, with the same reasons as the modules', () => {
  const table = nodeInternals();
  expect(table.map((i) => i.name)).toEqual(['llhttp', 'readInto', 'createServerHandle']);
  expect(table.map((i) => [i.name, i.available, i.reason])).toEqual([
    ['llhttp', true, llhttpUnavailable],
    ['readInto', true, readIntoUnavailable],
    ['createServerHandle', true, createServerHandleUnavailable],
  ]);
  // Only the server handle has no fallback.
  expect(table.filter((i) => i.fallback === null).map((i) => i.name)).toEqual(['createServerHandle']);
  expect(nodeInternals()).toBe(table); // built once, at load
});

/** Records each read: its text, whether it was lent, and which buffer it came in. */
class Reader implements SharedReader {
  ownReadBuffer: Buffer | null = null;
  readonly reads: { bytes: number; text: string; lent: boolean; buffer: ArrayBufferLike }[] = [];
  constructor(public large = false) {}
  onRead(bytes: Buffer, lent: boolean): void {
    this.reads.push({ bytes: bytes.length, text: bytes.toString('latin1', 0, Math.min(bytes.length, 64)), lent, buffer: bytes.buffer });
  }
  readsLarge(): boolean {
    return this.large;
  }
  received(): number {
    return this.reads.reduce((n, r) => n + r.bytes, 0);
  }
}

test('sharedReads: accepted (readInto) and connecting (onread) sockets read into one shared buffer; a large body gets its own', async () => {
  const readers = new Map<net.Socket, Reader>();
  const shared = sharedReads((s) => readers.get(s));
  const accepted: Reader[] = [];
  const { port } = await res.netServer((s) => {
    const r = new Reader(accepted.length === 1); // the second connection reads a large body
    readers.set(s, r);
    accepted.push(r);
    expect(readInto(s, shared)).toBe(true);
    s.on('end', () => s.end('bye'));
  });
  // Connecting side: the pool's way, net.connect's public onread option.
  const connecting = [new Reader(), new Reader()];
  const sockets = connecting.map((r) => {
    const s = res.socket(net.connect({ port, host: '127.0.0.1', onread: shared }));
    readers.set(s, r);
    return s;
  });
  await Promise.all(sockets.map((s) => once(s, 'connect')));
  await until(() => accepted.length === 2, 2000, 'both connections accepted');
  const small = sockets[0] as net.Socket;
  const large = sockets[1] as net.Socket;
  small.write('first small request');
  await until(() => (accepted[0] as Reader).reads.length === 1, 2000, 'the small read');
  const body = Buffer.alloc(1024 * 1024, 'x');
  large.end(body);
  small.end('second small request');
  await until(() => (accepted[1] as Reader).received() === body.length, 5000, 'the large body');
  await until(() => connecting.every((r) => r.received() === 3), 2000, 'both replies');

  const a = accepted[0] as Reader;
  const b = accepted[1] as Reader;
  const sharedBuffer = a.reads[0]?.buffer;
  expect(sharedBuffer?.byteLength).toBe(64 * 1024);
  // Small reads on every socket, accepted or connecting, share the one buffer and are lent.
  for (const r of [a, ...connecting]) {
    expect(r.reads.every((x) => x.buffer === sharedBuffer && x.lent)).toBe(true);
  }
  expect(a.reads.map((x) => x.text).join('')).toBe('first small requestsecond small request');
  expect(connecting.map((r) => r.reads.map((x) => x.text).join(''))).toEqual(['bye', 'bye']);
  // The large body: after its first read, into buffers of its own; big reads are handed on
  // (not lent) and each in a new buffer, smaller ones are lent.
  const own = b.reads.slice(1);
  expect(own.length).toBeGreaterThan(0);
  expect(own.every((x) => x.buffer !== sharedBuffer)).toBe(true);
  expect(own.every((x) => x.lent === x.bytes < OWN_READ_MIN)).toBe(true);
  const handedOn = own.filter((x) => !x.lent);
  expect(handedOn.length).toBeGreaterThan(0);
  expect(new Set(handedOn.map((x) => x.buffer)).size).toBe(handedOn.length);
});

test('sharedReads: bytes on a socket without a reader destroy it', async () => {
  const shared = sharedReads(() => undefined);
  let closed = false;
  const { port } = await res.netServer((s) => {
    readInto(s, shared);
    s.on('close', () => (closed = true));
  });
  const c = res.socket(net.connect(port, '127.0.0.1'));
  c.on('error', () => {});
  c.write('nobody reads this');
  await until(() => closed, 2000, 'the socket destroyed');
});

/**
 * Accepts on `handle`'s descriptor with a plain net.Server, as core's listeners do. From then
 * on the server owns the descriptor: closing the raw handle too would close it twice (and
 * could close a descriptor reused meanwhile), so, like core's `BoundSocket.markServed`, the
 * raw handle is left alone.
 */
async function acceptOn(handle: RawServerHandle, reply: string): Promise<net.Server> {
  const server = res.track(net.createServer((s) => s.end(reply)));
  server.listen({ fd: handle.fd });
  await once(server, 'listening');
  return server;
}

async function fetchFrom(opts: net.NetConnectOpts): Promise<string> {
  const s = res.socket(net.connect(opts));
  let got = '';
  s.on('data', (d: Buffer) => (got += d.toString()));
  await once(s, 'end');
  return got;
}

test('net._createServerHandle: binds TCP and Unix sockets without listening; a net.Server accepts on them', async () => {
  expect(createServerHandleUnavailable).toBeNull();
  const tcp = bindTcpHandle('127.0.0.1', 0, 4);
  const out: { port?: number } = {};
  expect(tcp.getsockname?.(out)).toBe(0);
  const port = out.port as number;
  expect(port).toBeGreaterThan(0);
  // Bound, not listening yet: a connect is refused.
  const early = net.connect(port, '127.0.0.1');
  const [err] = (await once(early, 'error')) as [NodeJS.ErrnoException];
  expect(err.code).toBe('ECONNREFUSED');
  await acceptOn(tcp, 'tcp ok');
  expect(await fetchFrom({ port, host: '127.0.0.1' })).toBe('tcp ok');
  // The same port again: EADDRINUSE at bind, not a random port.
  expect(() => bindTcpHandle('127.0.0.1', port, 4)).toThrow(expect.objectContaining({ code: 'EADDRINUSE' }));

  const path = join(tempDir(), 'internals.sock');
  const unix = bindUnixHandle(path);
  await acceptOn(unix, 'unix ok');
  expect(await fetchFrom({ path })).toBe('unix ok');
});

test('without net._createServerHandle: one startup line naming the Node.js version, before any bind', async () => {
  // The module object itself (`import * as` gives a copy of its properties).
  const mod = jest.requireActual<{ _createServerHandle?: unknown }>('node:net');
  const saved = mod._createServerHandle;
  let core: typeof import('@pingora-ts/core') | undefined;
  let internal: typeof import('@pingora-ts/core/internal') | undefined;
  try {
    delete mod._createServerHandle;
    jest.isolateModules(() => {
      core = jest.requireActual<typeof import('@pingora-ts/core')>('@pingora-ts/core');
      internal = jest.requireActual<typeof import('@pingora-ts/core/internal')>('@pingora-ts/core/internal');
    });
  } finally {
    mod._createServerHandle = saved;
  }
  const { Server, openListener } = core as typeof import('@pingora-ts/core');
  const { createServerHandleUnavailable: reason, nodeInternals: table } = internal as typeof import('@pingora-ts/core/internal');
  expect(reason).toBe(`Node.js ${process.version} has no net._createServerHandle: pingora-ts listeners cannot bind (see @pingora-ts/core docs/node-internals.md)`);
  expect(table().find((i) => i.name === 'createServerHandle')).toMatchObject({ available: false, reason, fallback: null });

  const lines: Array<[string, object, string | undefined]> = [];
  const at = (level: string) => (obj: object, msg?: string) => void lines.push([level, obj, msg]);
  const logger: Logger = { error: at('error'), warn: at('warn'), info: at('info'), debug: at('debug') };
  const listened: string[] = [];
  const service: ListeningService = {
    kind: 'listening',
    name: 'svc',
    listenerConfigs: [{ addr: '127.0.0.1:0' }],
    listen: async () => void listened.push('listen'),
    addresses: (): BoundAddress[] => [],
    shutdown: async () => {},
  };
  const server = new Server(null, { conf: { pid_file: join(tempDir(), 'p.pid') }, logger });
  server.addServices([service]);
  expect(await server.run()).toBe(1);
  expect(listened).toEqual([]);
  expect(lines.filter(([level]) => level === 'error')).toEqual([['error', { reason }, 'startup failed']]);
  await expect(openListener({ addr: '127.0.0.1:0' }, () => {})).rejects.toThrow(reason as string);
});
