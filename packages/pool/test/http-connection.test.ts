import type * as net from 'node:net';
import { ConnectionPool, type HttpConnection, type PeerLike, type ResponseHandler } from '@pingora-ts/pool';
import type { ProxyError } from '@pingora-ts/core';
import { Resources, sleep } from '../../../test-support/resources';

const res = new Resources();
afterEach(() => res.closeAll());

const peer = (address: string): PeerLike => ({ address, tls: false, sni: '' });

interface Outcome {
  status: number;
  headers: string[];
  body: string;
  trailers: string[] | null;
  error: ProxyError | null;
}

/** A handler that records one response; `pauseMs` pauses after every body chunk. */
class Recorder implements ResponseHandler {
  out: Outcome = { status: 0, headers: [], body: '', trailers: null, error: null };
  done: Promise<Outcome>;
  private finish!: (o: Outcome) => void;
  chunks = 0;
  constructor(
    private readonly pool: ConnectionPool,
    private readonly conn: HttpConnection,
    private readonly pauseMs = 0,
  ) {
    this.done = new Promise((r) => (this.finish = r));
  }
  onResponseHead(status: number, _reason: string, raw: string[]): void {
    this.out.status = status;
    this.out.headers = raw;
  }
  onResponseData(chunk: Buffer): void {
    this.chunks++;
    this.out.body += chunk.toString('latin1');
    if (this.pauseMs > 0) {
      this.conn.pause();
      setTimeout(() => this.conn.resume(), this.pauseMs);
    }
  }
  onResponseEnd(trailers: string[] | null): void {
    this.out.trailers = trailers;
    this.pool.release(this.conn);
    this.finish(this.out);
  }
  onResponseError(err: ProxyError): void {
    this.out.error = err;
    this.pool.release(this.conn);
    this.finish(this.out);
  }
  onRequestDrain(): void {}
}

/** An upstream that answers every request head with `replies[i]`, written in `pieceSize`-byte pieces. */
async function rawUpstream(replies: string[], pieceSize = 0, opts: { closeAfter?: boolean } = {}) {
  let n = 0;
  const requests: string[] = [];
  const up = await res.netServer((socket: net.Socket) => {
    let buf = '';
    socket.on('data', (d) => {
      buf += d.toString('latin1');
      let end: number;
      while ((end = buf.indexOf('\r\n\r\n')) >= 0) {
        requests.push(buf.slice(0, end));
        buf = buf.slice(end + 4);
        const reply = replies[Math.min(n++, replies.length - 1)] as string;
        void writePieces(socket, reply, pieceSize).then(() => {
          if (opts.closeAfter) socket.end();
        });
      }
    });
    socket.on('error', () => {});
  });
  return { ...up, requests };
}

async function writePieces(socket: net.Socket, text: string, pieceSize: number): Promise<void> {
  if (pieceSize <= 0) {
    socket.write(text, 'latin1');
    return;
  }
  for (let i = 0; i < text.length; i += pieceSize) {
    if (socket.destroyed) return;
    socket.write(text.slice(i, i + pieceSize), 'latin1');
    await sleep(1);
  }
}

async function send(pool: ConnectionPool, address: string, method = 'GET', pauseMs = 0, readTimeoutMs = 0): Promise<Outcome & { reused: boolean }> {
  const conn = await pool.acquire(peer(address));
  const rec = new Recorder(pool, conn, pauseMs);
  conn.request(method, '/', ['host', address], rec, { body: 'none', readTimeoutMs, writeTimeoutMs: 0 });
  const out = await rec.done;
  return { ...out, reused: conn.reused };
}

function newPool(): ConnectionPool {
  const pool = new ConnectionPool();
  res.defer(() => pool.destroy());
  return pool;
}

const CHUNKED =
  'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-A: 1\r\n\r\n' + '5;ext=1\r\nhello\r\n' + '1\r\n \r\n' + '5\r\nworld\r\n' + '0\r\nX-Checksum: abc\r\n\r\n';

test.each([0, 1, 7])('chunked response with extensions and trailers (pieces of %i bytes), then reuse', async (piece) => {
  const up = await rawUpstream([CHUNKED], piece);
  const pool = newPool();
  const a = await send(pool, up.address);
  expect(a.error).toBeNull();
  expect(a.status).toBe(200);
  expect(a.body).toBe('hello world');
  expect(a.headers).toEqual(['Transfer-Encoding', 'chunked', 'X-A', '1']);
  expect(a.trailers).toEqual(['X-Checksum', 'abc']);
  const b = await send(pool, up.address);
  expect(b.body).toBe('hello world');
  expect(b.reused).toBe(true);
  expect(pool.newConnections).toBe(1);
});

test('content-length body split across packets, with pause/resume backpressure', async () => {
  const body = 'x'.repeat(5000);
  const up = await rawUpstream([`HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n\r\n${body}`], 997);
  const pool = newPool();
  const r = await send(pool, up.address, 'GET', 2);
  expect(r.body).toBe(body);
  expect((await send(pool, up.address)).reused).toBe(true);
});

test('1xx informational responses are skipped', async () => {
  const up = await rawUpstream(['HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok']);
  const r = await send(newPool(), up.address);
  expect(r.status).toBe(201);
  expect(r.body).toBe('ok');
});

test('HEAD, 204 and 304 responses have no body even with Content-Length', async () => {
  const up = await rawUpstream([
    'HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n',
    'HTTP/1.1 204 No Content\r\n\r\n',
    'HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n',
  ]);
  const pool = newPool();
  const head = await send(pool, up.address, 'HEAD');
  expect(head.status).toBe(200);
  expect(head.headers).toEqual(['Content-Length', '10']);
  expect(head.body).toBe('');
  expect((await send(pool, up.address)).status).toBe(204);
  const nm = await send(pool, up.address);
  expect(nm.status).toBe(304);
  expect(nm.reused).toBe(true);
  expect(pool.newConnections).toBe(1);
});

test('a body without length runs until close, and the connection is not kept', async () => {
  const up = await rawUpstream(['HTTP/1.1 200 OK\r\n\r\nuntil the end'], 3, { closeAfter: true });
  const pool = newPool();
  const r = await send(pool, up.address);
  expect(r.error).toBeNull();
  expect(r.body).toBe('until the end');
  expect(pool.stats().idleConnections).toBe(0);
});

test('HTTP/1.0 responses are kept only with Connection: keep-alive', async () => {
  const up = await rawUpstream(['HTTP/1.0 200 OK\r\nContent-Length: 1\r\nConnection: keep-alive\r\n\r\na', 'HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\nb']);
  const pool = newPool();
  await send(pool, up.address);
  expect(pool.stats().idleConnections).toBe(1);
  await send(pool, up.address);
  expect(pool.stats().idleConnections).toBe(0);
});

test.each([
  ['garbage status line', 'HTTP/2 200 OK\r\n\r\n'],
  ['obsolete line folding', 'HTTP/1.1 200 OK\r\nX: a\r\n  b\r\nContent-Length: 0\r\n\r\n'],
  ['conflicting content-length', 'HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab'],
  ['bad chunk size', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n'],
  ['chunk longer than its size', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nabc\r\n0\r\n\r\n'],
  ['a control character in a value', 'HTTP/1.1 200 OK\r\nX-Bad: a\x01b\r\nContent-Length: 0\r\n\r\n'],
  ['a bare LF in a value', 'HTTP/1.1 200 OK\r\nX-Bad: a\nSet-Cookie: injected\r\nContent-Length: 0\r\n\r\n'],
  ['a bare CR in a value', 'HTTP/1.1 200 OK\r\nX-Bad: a\rb\r\nContent-Length: 0\r\n\r\n'],
  ['a bare LF in the status line', 'HTTP/1.1 200 O\nK\r\nContent-Length: 0\r\n\r\n'],
  ['a control character in a trailer', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX-T: a\x7fb\r\n\r\n'],
])('invalid response (%s) fails with InvalidHTTPResponse', async (_name, reply) => {
  const up = await rawUpstream([reply]);
  const r = await send(newPool(), up.address);
  expect(r.error?.kind).toBe('InvalidHTTPResponse');
  expect(r.error?.status).toBe(502);
});

test('upstream closing before any response byte: ConnectionClosed, retryable only when reused', async () => {
  const up = await res.netServer((s) => s.once('data', () => s.destroy()));
  const r = await send(newPool(), up.address);
  expect(r.error?.kind).toBe('ConnectionClosed');
  expect(r.error?.canRetry(false)).toBe(false);
  expect(r.error?.canRetry(true)).toBe(true);
});

test('upstream closing mid-body: ReadError, not retryable', async () => {
  const up = await res.netServer((s) =>
    s.once('data', () => {
      s.write('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial');
      setTimeout(() => s.destroy(), 10);
    }),
  );
  const r = await send(newPool(), up.address);
  expect(r.body).toBe('partial');
  expect(r.error?.kind).toBe('ReadError');
  expect(r.error?.canRetry(true)).toBe(false);
});

test('read timeout: ReadTimedout (504)', async () => {
  const up = await res.netServer(() => {});
  const started = Date.now();
  const r = await send(newPool(), up.address, 'GET', 0, 100);
  expect(r.error?.kind).toBe('ReadTimedout');
  expect(r.error?.status).toBe(504);
  expect(Date.now() - started).toBeGreaterThanOrEqual(90);
});

test('bytes after a complete response make the connection unusable', async () => {
  const up = await rawUpstream(['HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\naEXTRA']);
  const pool = newPool();
  const r = await send(pool, up.address);
  expect(r.body).toBe('a');
  await sleep(20);
  expect(pool.stats().idleConnections).toBe(0);
});

test('request bodies: content-length and chunked framing', async () => {
  const up = await rawUpstream(['HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n']);
  const pool = newPool();
  let body = '';
  up.server.on('connection', (s: net.Socket) => s.on('data', (d) => (body += d.toString('latin1'))));
  const conn = await pool.acquire(peer(up.address));
  const rec = new Recorder(pool, conn);
  conn.request('POST', '/up', ['host', 'x', 'content-length', '5'], rec, { body: 'content-length', readTimeoutMs: 0, writeTimeoutMs: 0 });
  conn.writeBody(Buffer.from('ab'));
  conn.writeBody(Buffer.from('cde'));
  conn.endBody();
  await rec.done;
  const conn2 = await pool.acquire(peer(up.address));
  expect(conn2.reused).toBe(true);
  const rec2 = new Recorder(pool, conn2);
  conn2.request('PUT', '/up2', ['host', 'x'], rec2, { body: 'chunked', readTimeoutMs: 0, writeTimeoutMs: 0 });
  conn2.writeBody(Buffer.from('hello'));
  conn2.writeBody(Buffer.alloc(0));
  conn2.writeBody(Buffer.from('!'));
  conn2.endBody();
  await rec2.done;
  expect(body).toContain('POST /up HTTP/1.1\r\nhost: x\r\ncontent-length: 5\r\n\r\nabcde');
  expect(body).toContain('PUT /up2 HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n1\r\n!\r\n0\r\n\r\n');
});

test('a handler that pauses and resumes inside onResponseHead gets the rest of the same read at once', async () => {
  const up = await rawUpstream(['HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello']);
  const pool = newPool();
  const conn = await pool.acquire(peer(up.address));
  const events: string[] = [];
  const done = new Promise<void>((resolve) => {
    conn.request('GET', '/', ['host', 'x'], {
      onResponseHead() {
        conn.pause();
        events.push('head');
        conn.resume(); // decided at once, still inside the parser's callback
      },
      onResponseData(chunk) {
        events.push(`data ${chunk.toString()}`);
      },
      onResponseEnd() {
        events.push('end');
        pool.release(conn);
        resolve();
      },
      onResponseError(err) {
        events.push(`error ${err.kind}`);
        resolve();
      },
      onRequestDrain() {},
    }, { body: 'none', readTimeoutMs: 1000, writeTimeoutMs: 0 });
  });
  await done;
  expect(events).toEqual(['head', 'data hello', 'end']);
  expect(pool.stats().idleConnections).toBe(1);
});

test('chunks kept past their read stay intact: shared read buffer, and own buffers in large bodies', async () => {
  // Several connections read at the same time, with different bytes; heads and bodies arrive
  // in pieces, some handlers pause (so bytes are held), and every chunk is kept as a Buffer.
  const bodyA = Buffer.alloc(200_000, 'a');
  const bodyB = Buffer.from('0123456789'.repeat(20_000));
  const reply = (b: Buffer) => `HTTP/1.1 200 OK\r\nX-Long: ${'h'.repeat(3000)}\r\nContent-Length: ${b.length}\r\n\r\n${b.toString('latin1')}`;
  const upA = await rawUpstream([reply(bodyA)], 1499);
  // B is chunked in 100-byte chunks: a pause after one leaves the rest of the read held.
  let chunkedB = `HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n`;
  for (let i = 0; i < bodyB.length; i += 100) chunkedB += `64\r\n${bodyB.toString('latin1', i, i + 100)}\r\n`;
  const upB = await rawUpstream([chunkedB + '0\r\n\r\n'], 2048);
  const pool = newPool();
  /** `pause`: pause after every third chunk (bytes are then held, and copied when more arrive). */
  const fetchKept = async (address: string, pause = false): Promise<{ head: string[]; body: Buffer }> => {
    const conn = await pool.acquire(peer(address));
    const kept: Buffer[] = [];
    let head: string[] = [];
    await new Promise<void>((resolve, reject) => {
      conn.request('GET', '/', ['host', address], {
        onResponseHead: (_s, _r, raw) => (head = raw),
        onResponseData: (chunk) => {
          kept.push(chunk);
          if (pause && kept.length % 3 === 0) {
            conn.pause();
            setTimeout(() => conn.resume(), 1);
          }
        },
        onResponseEnd: () => {
          pool.release(conn);
          resolve();
        },
        onResponseError: reject,
        onRequestDrain: () => {},
      }, { body: 'none', readTimeoutMs: 0, writeTimeoutMs: 0 });
    });
    if (!pause) {
      // A small read never keeps a whole 64 KiB read buffer alive (it was copied out): every
      // large buffer the chunks point into holds at least 16 KiB of them. (Not checked with
      // pauses: the held rest of a large read is copied once more bytes come, and the part
      // already handed on may be smaller.)
      const keptPerBuffer = new Map<ArrayBufferLike, number>();
      for (const ch of kept) keptPerBuffer.set(ch.buffer, (keptPerBuffer.get(ch.buffer) ?? 0) + ch.length);
      const wasteful = [...keptPerBuffer].filter(([buf, bytes]) => buf.byteLength >= 64 * 1024 && bytes < 16 * 1024);
      expect(wasteful.map(([buf, bytes]) => `${bytes} of ${buf.byteLength}`)).toEqual([]);
    }
    return { head, body: Buffer.concat(kept) };
  };
  // C arrives in 48 KiB pieces: large reads, handed on without a copy from buffers of their own.
  const bodyC = Buffer.alloc(1024 * 1024);
  for (let i = 0; i < bodyC.length; i++) bodyC[i] = (i * 7) & 0xff;
  const upC = await rawUpstream([`HTTP/1.1 200 OK\r\nContent-Length: ${bodyC.length}\r\n\r\n${bodyC.toString('latin1')}`], 48 * 1024);
  // Copies then get buffers of exactly their size (not a slice of Buffer's pool, which is
  // 64 KiB on Node 24): a 64 KiB buffer behind a small chunk can only be a read buffer.
  const poolSize = Buffer.poolSize;
  Buffer.poolSize = 0;
  res.defer(() => {
    Buffer.poolSize = poolSize;
  });
  const [a, b, c, a2] = await Promise.all([fetchKept(upA.address), fetchKept(upB.address, true), fetchKept(upC.address), fetchKept(upA.address, true)]);
  expect(a.head[1]).toBe('h'.repeat(3000));
  expect(a.body.equals(bodyA)).toBe(true);
  expect(a2.body.equals(bodyA)).toBe(true);
  expect(b.body.equals(bodyB)).toBe(true);
  expect(c.body.equals(bodyC)).toBe(true);
  // After a large response a connection reads the next one into its own buffer from the start:
  // a large one again, then a small one (copied out, and the shared buffer is back).
  const large = `HTTP/1.1 200 OK\r\nContent-Length: ${bodyC.length}\r\n\r\n${bodyC.toString('latin1')}`;
  const upD = await rawUpstream([large, large, 'HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\ntiny'], 48 * 1024);
  expect((await fetchKept(upD.address)).body.equals(bodyC)).toBe(true);
  expect((await fetchKept(upD.address)).body.equals(bodyC)).toBe(true);
  expect((await fetchKept(upD.address)).body.toString()).toBe('tiny');
  expect((await fetchKept(upD.address)).body.toString()).toBe('tiny');
  expect(pool.reusedConnections).toBeGreaterThanOrEqual(3);
});

describe('101 Switching Protocols', () => {
  const SWITCH = 'HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\nUpgrade: raw\r\n\r\nfirst bytes';
  const OPTS = { body: 'none' as const, readTimeoutMs: 2000, writeTimeoutMs: 0 };

  test('to a request sent without upgrade: an invalid response', async () => {
    const up = await rawUpstream([SWITCH]);
    const pool = new ConnectionPool();
    res.defer(() => pool.destroy());
    const conn = await pool.acquire(peer(up.address));
    const rec = new Recorder(pool, conn);
    conn.request('GET', '/', ['host', 'x'], rec, OPTS);
    const out = await rec.done;
    expect(out.error?.kind).toBe('InvalidHTTPResponse');
  });

  test('to an upgrade request: the head is reported, then takeSocket hands over the socket with the bytes past the head; the pool counts it until it closes', async () => {
    const up = await rawUpstream([SWITCH]);
    const pool = new ConnectionPool();
    res.defer(() => pool.destroy());
    const conn = await pool.acquire(peer(up.address));
    let status = 0;
    const headSeen = new Promise<void>((resolve) => {
      const handler: ResponseHandler = {
        onResponseHead: (s) => {
          status = s;
          conn.pause();
          resolve();
        },
        onResponseData: () => {},
        onResponseEnd: () => {},
        onResponseError: () => {},
        onRequestDrain: () => {},
      };
      conn.request('GET', '/', ['host', 'x', 'connection', 'upgrade', 'upgrade', 'raw'], handler, { ...OPTS, upgrade: true });
    });
    await headSeen;
    await sleep(20); // the bytes past the head are held meanwhile
    expect(status).toBe(101);
    const taken = conn.takeSocket();
    expect(taken.head?.toString()).toBe('first bytes');
    expect(conn.reusable).toBe(false);
    const later: string[] = [];
    conn.readRaw({ onRawData: (c) => later.push(c.toString()) });
    taken.socket.resume();
    expect(pool.stats().activeConnections).toBe(1);
    taken.socket.destroy();
    await sleep(20);
    expect(pool.stats().activeConnections).toBe(0);
    expect(pool.stats().idleConnections).toBe(0);
  });
});
