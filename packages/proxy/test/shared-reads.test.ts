/**
 * The fast path reads every plain socket into one shared buffer (`readInto`), so whatever
 * outlives a read must be copied out of it: body chunks that wait for the runner, bytes of a
 * pipelined request held while the one before it is answered. These tests keep such bytes
 * waiting while other connections read (which overwrites the shared buffer), then check what
 * the upstream got, byte for byte. Run on both paths; only the fast one shares buffers.
 */
import { createHash } from 'node:crypto';
import type * as http from 'node:http';
import * as net from 'node:net';
import { HttpPeer, type ProxyHttp } from '@pingora-ts/proxy';
import { DOWNSTREAMS, Resources, rawExchange, startProxy, until, useDownstream } from './resources';

const res = new Resources();
afterEach(() => res.closeAll());

const digest = (b: Buffer | string): string => createHash('sha256').update(b).digest('hex').slice(0, 16);

/** An upstream that answers each request with the URL and the digest of its body. */
async function digestUpstream(): Promise<{ address: string }> {
  const up = await res.httpServer((req: http.IncomingMessage, r: http.ServerResponse) => {
    const parts: Buffer[] = [];
    req.on('data', (d: Buffer) => parts.push(d));
    req.on('end', () => {
      const body = Buffer.concat(parts);
      r.end(`${req.url} ${body.length} ${digest(body)}`);
    });
  });
  return { address: up.address };
}

/** A body of `size` bytes that differs from every other one: `seed` repeated with a counter. */
function bodyOf(seed: string, size: number): Buffer {
  const b = Buffer.alloc(size);
  for (let i = 0; i < size; i++) b[i] = seed.charCodeAt(i % seed.length) + (Math.floor(i / 251) % 7);
  return b;
}

/** Sends `data` on a new connection (in writes of `piece` bytes, a tick apart; 0: at once) and collects the reply until `done(reply)`. */
function sendRaw(port: number, data: Buffer, done: (reply: string) => boolean, piece = 0): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = res.socket(net.connect(port, '127.0.0.1'));
    let got = '';
    s.on('data', (d: Buffer) => {
      got += d.toString('latin1');
      if (done(got)) {
        s.destroy();
        resolve(got);
      }
    });
    s.on('error', reject);
    s.on('close', () => resolve(got));
    if (piece === 0) {
      s.write(data);
      return;
    }
    const writeFrom = (at: number): void => {
      if (at >= data.length || s.destroyed) return;
      s.write(data.subarray(at, at + piece));
      setTimeout(writeFrom, 0, at + piece);
    };
    writeFrom(0);
  });
}

/** Writes `count` requests on `count` other connections at once (their reads reuse the shared buffer). */
async function trafficAlongside(port: number, count: number): Promise<void> {
  await Promise.all(
    Array.from({ length: count }, (_, i) => {
      const body = bodyOf(`noise${i}`, 3000);
      const head = `POST /noise${i} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: ${body.length}\r\n\r\n`;
      return rawExchange(res, port, head + body.toString('latin1'));
    }),
  );
}

describe.each(DOWNSTREAMS)('%s downstream', (downstream) => {
  beforeEach(() => useDownstream(downstream));

  test.each([
    ['small (one read)', 2_000],
    ['large (own read buffers)', 300_000],
  ])('a %s body that waits for the runner reaches the upstream intact while other connections read', async (_name, size) => {
    const up = await digestUpstream();
    const peer = new HttpPeer(up.address);
    let open!: () => void;
    const gate = new Promise<void>((r) => (open = r));
    const waiting: string[] = [];
    const proxy: ProxyHttp<null> = {
      newCtx: () => null,
      upstreamPeer: () => peer,
      // Holds the watched requests before their bodies are read: the body chunks stay queued.
      requestFilter: async (session) => {
        if (!session.path.startsWith('/watched')) return false;
        waiting.push(session.path);
        await gate;
        return false;
      },
    };
    const { port } = await startProxy(res, proxy);
    const bodies = [bodyOf('alpha', size), bodyOf('bravo', size)];
    const replies = bodies.map((body, i) =>
      sendRaw(port, Buffer.concat([Buffer.from(`POST /watched${i} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: ${body.length}\r\n\r\n`), body]), (r) =>
        r.includes(` ${digest(body)}`),
      ),
    );
    await until(() => waiting.length === 2, 3000, 'both watched requests in requestFilter');
    await trafficAlongside(port, 8);
    open();
    const got = await Promise.all(replies);
    bodies.forEach((body, i) => expect(got[i]).toContain(`/watched${i} ${body.length} ${digest(body)}`));
  });

  test.each([
    ['a small body', 2_000, 0],
    ['a large body', 1_000_000, 0],
    ['a large body sent in 1000-byte pieces', 300_000, 1000],
  ])('chunks a requestBodyFilter keeps stay intact: %s', async (_name, size, piece) => {
    const up = await digestUpstream();
    const peer = new HttpPeer(up.address);
    const kept: Buffer[] = [];
    let keptDigest = '';
    const proxy: ProxyHttp<null> = {
      newCtx: () => null,
      upstreamPeer: () => peer,
      // User code may keep the chunks it is given (here: to look at the whole body at the end).
      requestBodyFilter: (session, chunk, end) => {
        if (session.path !== '/kept') return undefined;
        if (chunk !== null) kept.push(chunk);
        if (end) keptDigest = digest(Buffer.concat(kept));
        return undefined;
      },
    };
    const { port } = await startProxy(res, proxy);
    const body = bodyOf('delta', size);
    const head = `POST /kept HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: ${body.length}\r\n\r\n`;
    const reply = sendRaw(port, Buffer.concat([Buffer.from(head), body]), (r) => r.includes(` ${digest(body)}`), piece);
    await Promise.all([reply, trafficAlongside(port, 8)]);
    expect(await reply).toContain(`/kept ${body.length} ${digest(body)}`);
    expect(keptDigest).toBe(digest(body));
    // A small read is copied out: no 64 KiB read buffer is kept alive by less than 16 KiB of
    // chunks. Where Buffer.poolSize is 64 KiB (Node 24), every small copy is a slice of a 64 KiB
    // slab of Node's own, so the check cannot tell a read buffer from that slab there.
    if (Buffer.poolSize >= 64 * 1024) return;
    const keptPerBuffer = new Map<ArrayBufferLike, number>();
    for (const ch of kept) keptPerBuffer.set(ch.buffer, (keptPerBuffer.get(ch.buffer) ?? 0) + ch.length);
    const wasteful = [...keptPerBuffer].filter(([buf, bytes]) => buf.byteLength >= 64 * 1024 && bytes < 16 * 1024);
    expect(wasteful.map(([buf, bytes]) => `${bytes} of ${buf.byteLength}`)).toEqual([]);
  });

  test('a pipelined request held behind a slow one reaches the upstream intact while other connections read', async () => {
    let release!: () => void;
    const slow = new Promise<void>((r) => (release = r));
    let slowIn = false;
    const up = await digestUpstream();
    const peer = new HttpPeer(up.address);
    const proxy: ProxyHttp<null> = {
      newCtx: () => null,
      upstreamPeer: () => peer,
      requestFilter: async (session) => {
        if (session.path !== '/slow') return false;
        slowIn = true;
        await slow;
        return false;
      },
    };
    const { port } = await startProxy(res, proxy);
    const body = bodyOf('charlie', 5_000);
    const data = Buffer.concat([
      Buffer.from('GET /slow HTTP/1.1\r\nHost: x\r\n\r\n'),
      Buffer.from(`POST /held HTTP/1.1\r\nHost: x\r\nContent-Length: ${body.length}\r\n\r\n`),
      body,
      Buffer.from('GET /last HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'),
    ]);
    const reply = sendRaw(port, data, (r) => r.includes('/last 0 '));
    await until(() => slowIn, 3000, '/slow in requestFilter');
    await trafficAlongside(port, 8);
    release();
    const got = await reply;
    expect(got).toContain(`/slow 0 ${digest('')}`);
    expect(got).toContain(`/held ${body.length} ${digest(body)}`);
    expect(got).toContain('/last 0 ');
  });
});
