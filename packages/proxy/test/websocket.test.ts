/**
 * WebSocket (HTTP/1.1 `Upgrade`) and `CONNECT` tunnels through the proxy, on both downstream
 * paths: a `ws` client → the proxy → a `ws` server, all on 127.0.0.1.
 */
import * as http from 'node:http';
import * as net from 'node:net';
import WebSocket, { WebSocketServer } from 'ws';
import { HttpPeer, type ProxyHttp, type Session, type TunnelInfo } from '@pingora-ts/proxy';
import { DOWNSTREAMS, Resources, sleep, startProxy, until, useDownstream } from './resources';

const res = new Resources();
afterEach(() => res.closeAll());

/** A `ws` server on its own node:http server (closed in `closeAll()`). */
async function wsUpstream(
  onConnection: (ws: WebSocket, req: http.IncomingMessage) => void,
  handler?: http.RequestListener,
  options: Omit<ConstructorParameters<typeof WebSocketServer>[0], 'server'> = {},
) {
  const up = await res.httpServer(handler ?? ((_req, r) => r.end('plain')));
  const wss = new WebSocketServer({ ...options, server: up.server });
  wss.on('connection', onConnection);
  res.defer(() => new Promise<void>((r) => wss.close(() => r())));
  return { ...up, wss };
}

/** An echo server: every message back as it came. */
function echo(ws: WebSocket): void {
  ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
}

interface Logged {
  status: number;
  tunnel: TunnelInfo | null;
  error: string | null;
}

/** A proxy to `address` that records what `logging` saw. */
async function proxyTo(address: string, extra: Partial<ProxyHttp<unknown>> = {}, opts: { tunnelIdleTimeoutMs?: number } = {}) {
  const peer = new HttpPeer(address);
  const logged: Logged[] = [];
  const app: ProxyHttp<unknown> = {
    newCtx: () => ({}),
    upstreamPeer: () => peer,
    logging: (s: Session, e) => {
      const t = s.tunnel;
      logged.push({ status: s.status, tunnel: t === null ? null : { bytesUp: t.bytesUp, bytesDown: t.bytesDown, reason: t.reason }, error: e === null ? null : e.kind });
    },
    ...extra,
  };
  const p = await startProxy(res, app, opts);
  return { ...p, logged };
}

/** A `ws` client closed in `closeAll()`, open once this resolves. */
async function connect(url: string, path = '/ws'): Promise<WebSocket> {
  const ws = new WebSocket(url.replace('http:', 'ws:') + path);
  res.defer(() => ws.terminate());
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
    ws.once('unexpected-response', (_req, r) => reject(new Error(`unexpected response ${r.statusCode}`)));
  });
  return ws;
}

function closed(ws: WebSocket): Promise<{ code: number; reason: string }> {
  return new Promise((resolve) => ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })));
}

/** Raw HTTP/1.1 over one socket: reads until `done(text)` says the answer is complete. */
function readUntil(s: net.Socket, done: (text: string) => boolean, timeoutMs = 3000): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    const timer = setTimeout(() => {
      s.off('data', onData);
      reject(new Error(`no complete answer within ${timeoutMs} ms; got ${JSON.stringify(text)}`));
    }, timeoutMs);
    const onData = (d: Buffer): void => {
      text += d.toString('latin1');
      if (done(text)) {
        clearTimeout(timer);
        s.off('data', onData);
        resolve(text);
      }
    };
    s.on('data', onData);
  });
}

/** A complete response with a Content-Length body (or none). */
function responseDone(text: string): boolean {
  const end = text.indexOf('\r\n\r\n');
  if (end < 0) return false;
  const m = /content-length: *(\d+)/i.exec(text.slice(0, end));
  return text.length >= end + 4 + (m === null ? 0 : Number(m[1]));
}

const UPGRADE_REQUEST = 'GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n';

describe.each(DOWNSTREAMS)('%s downstream', (kind) => {
  beforeEach(() => useDownstream(kind));

  test('echo: a 1 MiB message, then 10,000 small ones in order; logging runs once with the bytes both ways', async () => {
    const up = await wsUpstream(echo);
    const { url, logged, proxy } = await proxyTo(up.address);
    const ws = await connect(url);
    const big = Buffer.alloc(1024 * 1024);
    for (let i = 0; i < big.length; i++) big[i] = i % 251;
    const gotBig = new Promise<Buffer>((r) => ws.once('message', (d) => r(d as Buffer)));
    ws.send(big);
    expect((await gotBig).equals(big)).toBe(true);

    const N = 10_000;
    const received: string[] = [];
    const all = new Promise<void>((r) => {
      ws.on('message', (d) => {
        received.push(d.toString());
        if (received.length === N) r();
      });
    });
    for (let i = 0; i < N; i++) ws.send(`m${i}`);
    await all;
    expect(received.every((m, i) => m === `m${i}`)).toBe(true);

    ws.close(1000, 'done');
    await closed(ws);
    await until(() => logged.length === 1, 3000, 'logging');
    await sleep(50);
    expect(logged).toHaveLength(1);
    const t = logged[0]?.tunnel as TunnelInfo;
    expect(logged[0]?.status).toBe(101);
    expect(logged[0]?.error).toBeNull();
    expect(t.reason).toBe('closed');
    expect(t.bytesUp).toBeGreaterThan(big.length + N * 4);
    expect(t.bytesDown).toBeGreaterThan(big.length + N * 4);
    await until(() => proxy.stats().activeConnections === 0 && proxy.stats().pool.activeConnections === 0, 3000, 'sockets closed');
    // The tunnel's upstream connection never went back to the pool.
    expect(proxy.stats().pool.idleConnections).toBe(0);
    expect(proxy.stats().pool.reusedConnections).toBe(0);
  });

  test('close frames go both ways: client close reaches the upstream, upstream close reaches the client with code and reason', async () => {
    const serverSide: WebSocket[] = [];
    const up = await wsUpstream((ws) => {
      serverSide.push(ws);
      echo(ws);
    });
    const { url } = await proxyTo(up.address);

    const a = await connect(url);
    await until(() => serverSide.length === 1);
    const seenUp = closed(serverSide[0] as WebSocket);
    const aClosed = closed(a);
    a.close(4000, 'client says bye');
    expect(await seenUp).toEqual({ code: 4000, reason: 'client says bye' });
    expect(await aClosed).toEqual({ code: 4000, reason: 'client says bye' });

    const b = await connect(url);
    await until(() => serverSide.length === 2);
    const seenDown = closed(b);
    (serverSide[1] as WebSocket).close(4001, 'server says bye');
    expect(await seenDown).toEqual({ code: 4001, reason: 'server says bye' });
  });

  test('half-close: the client FIN reaches the upstream, whose late bytes still reach the client', async () => {
    const up = await res.netServer((s) => {
      let head = '';
      s.on('data', (d) => {
        head += d.toString('latin1');
        if (head.includes('\r\n\r\n')) s.write('HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: raw\r\n\r\n');
      });
      s.on('end', () => {
        // The client's FIN came through; this side still writes, then closes.
        s.end('after-fin');
      });
    });
    const { port } = await proxyTo(up.address);
    const c = res.socket(net.connect(port, '127.0.0.1'));
    c.write('GET / HTTP/1.1\r\nHost: x\r\nConnection: upgrade\r\nUpgrade: raw\r\n\r\n');
    await readUntil(c, (t) => t.includes('\r\n\r\n'));
    let rest = '';
    c.on('data', (d) => (rest += d.toString('latin1')));
    const ended = new Promise<void>((r) => c.once('end', () => r()));
    c.end();
    await ended;
    expect(rest).toBe('after-fin');
  });

  test('backpressure both ways: a side that does not read pauses the other (the proxy does not take it all in)', async () => {
    const TOTAL = 64 * 1024 * 1024;
    const MSG = Buffer.alloc(64 * 1024, 7);
    let server: WebSocket | null = null;
    const up = await wsUpstream((ws) => {
      server = ws;
    });
    const { url } = await proxyTo(up.address);
    const ws = await connect(url);
    await until(() => server !== null);
    let got = 0;
    ws.on('message', (d) => (got += (d as Buffer).length));
    ws.pause();
    const s = server as unknown as WebSocket;
    for (let sent = 0; sent < TOTAL; sent += MSG.length) s.send(MSG);
    await sleep(500);
    // Kernel buffers on loopback hold a few MiB per socket; the rest must wait in the server.
    expect(s.bufferedAmount).toBeGreaterThan(TOTAL / 2);
    ws.resume();
    await until(() => got === TOTAL, 20_000, 'all bytes after resume');

    // The other way: an upstream that does not read pauses the client.
    let upGot = 0;
    s.on('message', (d) => (upGot += (d as Buffer).length));
    s.pause();
    for (let sent = 0; sent < TOTAL; sent += MSG.length) ws.send(MSG);
    await sleep(500);
    expect(ws.bufferedAmount).toBeGreaterThan(TOTAL / 2);
    s.resume();
    await until(() => upGot === TOTAL, 20_000, 'all bytes upstream after resume');
  });

  test('the idle timeout closes a silent tunnel', async () => {
    const up = await wsUpstream(echo);
    const { url, logged } = await proxyTo(up.address, {}, { tunnelIdleTimeoutMs: 200 });
    const ws = await connect(url);
    ws.send('hi');
    await new Promise((r) => ws.once('message', r));
    const { code } = await closed(ws);
    expect(code).toBe(1006); // dropped, no close frame
    await until(() => logged.length === 1);
    expect(logged[0]?.tunnel?.reason).toBe('idle-timeout');
  });

  test('the upstream refuses (403): the client gets that answer as is', async () => {
    const up = await wsUpstream(echo, (_req, r) => r.end('not a websocket'), {
      verifyClient: (info: { req: http.IncomingMessage }, done: (ok: boolean, status?: number) => void) => done(info.req.url !== '/forbidden', 403),
    });
    const { port, logged } = await proxyTo(up.address);

    const c = res.socket(net.connect(port, '127.0.0.1'));
    c.write(UPGRADE_REQUEST.replace('/ws', '/forbidden'));
    const refused = await readUntil(c, responseDone);
    expect(refused).toMatch(/^HTTP\/1\.1 403 /);
    expect(refused.endsWith('Forbidden')).toBe(true);
    if (kind === 'llhttp') {
      // The connection goes on as plain HTTP/1.1.
      c.write('GET /again HTTP/1.1\r\nHost: x\r\n\r\n');
      const again = await readUntil(c, responseDone);
      expect(again).toMatch(/^HTTP\/1\.1 200 /);
      expect(again.endsWith('not a websocket')).toBe(true);
    } else {
      // node:http gave the socket up for the upgrade: the connection closes after the refusal.
      await new Promise((r) => (c.closed ? r(null) : c.once('close', r)));
    }
    await until(() => logged.length >= 1);
    expect(logged[0]?.status).toBe(403);
    expect(logged[0]?.tunnel).toBeNull();
  });

  test('a server that ignores Upgrade answers 200: passed on, and (llhttp) the connection stays HTTP', async () => {
    const up = await res.httpServer((_req, r) => r.end('plain answer'));
    const { port } = await proxyTo(up.address);
    const c = res.socket(net.connect(port, '127.0.0.1'));
    c.write(UPGRADE_REQUEST);
    const first = await readUntil(c, responseDone);
    expect(first).toMatch(/^HTTP\/1\.1 200 /);
    expect(first.endsWith('plain answer')).toBe(true);
    if (kind === 'llhttp') {
      c.write('GET /next HTTP/1.1\r\nHost: x\r\n\r\n');
      expect(await readUntil(c, responseDone)).toMatch(/^HTTP\/1\.1 200 /);
    }
  });

  test('bytes the client sends right behind the upgrade request are the tunnel\'s', async () => {
    const up = await res.netServer((s) => {
      let buf = '';
      let switched = false;
      s.on('data', (d) => {
        buf += d.toString('latin1');
        if (!switched && buf.includes('\r\n\r\n')) {
          switched = true;
          const rest = buf.slice(buf.indexOf('\r\n\r\n') + 4);
          s.write('HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\nUpgrade: raw\r\n\r\nfirst-from-server|');
          buf = rest;
        }
        if (switched && buf.length > 0) {
          s.write(buf.toUpperCase());
          buf = '';
        }
      });
    });
    const { port } = await proxyTo(up.address);
    const c = res.socket(net.connect(port, '127.0.0.1'));
    c.write('GET / HTTP/1.1\r\nHost: x\r\nConnection: upgrade\r\nUpgrade: raw\r\n\r\nearly-bytes|');
    const got = await readUntil(c, (t) => t.includes('EARLY-BYTES|'));
    expect(got).toMatch(/^HTTP\/1\.1 101 /i);
    expect(got).toMatch(/\r\nupgrade: raw\r\n/i);
    expect(got).toContain('first-from-server|EARLY-BYTES|');
    c.write('later');
    await readUntil(c, (t) => t.includes('LATER'));
  });

  test('a body declared on an upgrade request is forwarded (as nginx does); the tunnel starts after it', async () => {
    let seen = '';
    const up = await res.netServer((s) => {
      let switched = false;
      s.on('data', (d) => {
        seen += d.toString('latin1');
        if (!switched && seen.includes('\r\n\r\nhello')) {
          switched = true;
          s.write('HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\nUpgrade: raw\r\n\r\n');
        }
        if (switched && seen.endsWith('tunnel-bytes')) s.write('got them');
      });
    });
    const { port } = await proxyTo(up.address);
    const c = res.socket(net.connect(port, '127.0.0.1'));
    c.write('POST /up HTTP/1.1\r\nHost: x\r\nConnection: upgrade\r\nUpgrade: raw\r\nContent-Length: 5\r\n\r\nhello');
    await readUntil(c, (t) => t.includes('\r\n\r\n'));
    c.write('tunnel-bytes');
    await readUntil(c, (t) => t.includes('got them'));
    expect(seen).toMatch(/^POST \/up HTTP\/1\.1\r\n/);
    expect(seen).toMatch(/\r\ncontent-length: 5\r\n/i);
    expect(seen.endsWith('\r\n\r\nhellotunnel-bytes')).toBe(true);
  });

  test('a chunked body on an upgrade request: forwarded on the llhttp path, 400 on the node:http path', async () => {
    let seen = '';
    const up = await res.netServer((s) => {
      let switched = false;
      s.on('data', (d) => {
        seen += d.toString('latin1');
        if (!switched && seen.includes('0\r\n\r\n')) {
          switched = true;
          s.write('HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\nUpgrade: raw\r\n\r\n');
        }
        if (switched && seen.endsWith('tunnel-bytes')) s.write('got them');
      });
    });
    const { port } = await proxyTo(up.address);
    const c = res.socket(net.connect(port, '127.0.0.1'));
    c.on('error', () => {});
    c.write('POST /up HTTP/1.1\r\nHost: x\r\nConnection: upgrade\r\nUpgrade: raw\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n');
    const head = await readUntil(c, (t) => t.includes('\r\n\r\n'));
    if (kind === 'node:http') {
      expect(head).toMatch(/^HTTP\/1\.1 400 /);
      expect(seen).toBe('');
      return;
    }
    expect(head).toMatch(/^HTTP\/1\.1 101 /);
    c.write('tunnel-bytes');
    await readUntil(c, (t) => t.includes('got them'));
    expect(seen).toMatch(/\r\ntransfer-encoding: chunked\r\n/i);
    expect(seen.endsWith('\r\n\r\n5\r\nhello\r\n0\r\n\r\ntunnel-bytes')).toBe(true);
  });

  test('graceful shutdown lets an open tunnel live until the deadline, then closes it', async () => {
    const up = await wsUpstream(echo);
    const { url, proxy, logged } = await proxyTo(up.address);
    const ws = await connect(url);
    const wsClosed = closed(ws);
    const t0 = Date.now();
    const done = proxy.shutdown({ graceful: true, timeoutMs: 1500 });
    await sleep(1200); // past the idle grace (1 s): a tunnel is not an idle connection
    ws.send('still here');
    expect((await new Promise((r) => ws.once('message', r))) as Buffer).toEqual(Buffer.from('still here'));
    await wsClosed;
    await done;
    expect(Date.now() - t0).toBeGreaterThanOrEqual(1400);
    await until(() => logged.length === 1);
    expect(logged[0]?.tunnel?.reason).toBe('destroyed');
  });

  test('CONNECT: 405 by default; allowed by allowConnect, 200 and a tunnel to the peer', async () => {
    const target = await res.netServer((s) => s.on('data', (d) => s.write(Buffer.concat([Buffer.from('echo:'), d]))));
    const refusedProxy = await proxyTo(target.address);
    const refused = await new Promise<string>((resolve) => {
      const c = res.socket(net.connect(refusedProxy.port, '127.0.0.1'));
      let out = '';
      c.on('data', (d) => (out += d.toString('latin1')));
      c.on('close', () => resolve(out));
      c.write(`CONNECT ${target.address} HTTP/1.1\r\nHost: ${target.address}\r\n\r\n`);
    });
    expect(refused).toMatch(/^HTTP\/1\.1 405 /);
    expect(refused).toMatch(/\r\nallow: GET/i);

    const allowed = await proxyTo(target.address, { allowConnect: (s: Session) => s.path === target.address });
    const c = res.socket(net.connect(allowed.port, '127.0.0.1'));
    c.write(`CONNECT ${target.address} HTTP/1.1\r\nHost: ${target.address}\r\n\r\nhello`);
    const got = await readUntil(c, (t) => t.includes('echo:hello'));
    expect(got).toMatch(/^HTTP\/1\.1 200 Connection Established\r\n/);
    expect(got).not.toMatch(/transfer-encoding/i);
    c.end();
    await until(() => allowed.logged.length === 1);
    expect(allowed.logged[0]?.tunnel?.bytesUp).toBe(5);
    expect(allowed.logged[0]?.tunnel?.bytesDown).toBe(10);
  });
});
