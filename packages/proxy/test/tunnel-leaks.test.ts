/**
 * No socket left open: 1,000 WebSocket connections through the proxy for each way a tunnel (or
 * its handshake) can end — the client closes, the upstream closes, the client resets, the
 * upstream resets, the upstream refuses — then the proxy's connections, the pool's and the
 * process's TCP handles must be back where they were.
 */
import type * as http from 'node:http';
import type * as net from 'node:net';
import WebSocket, { WebSocketServer } from 'ws';
import { HttpPeer, type ProxyHttp } from '@pingora-ts/proxy';
import { DOWNSTREAMS, Resources, startProxy, until, useDownstream } from './resources';

const res = new Resources();
afterEach(() => res.closeAll());

/**
 * Per way: 1,000 on the default llhttp path; 200 on the node:http fallback, so the file stays
 * near 30 s on a 2-core machine (each connection costs about 5 ms of CPU here: client, proxy
 * and upstream share one process). `TUNNEL_LEAK_N` sets both.
 */
const PER_WAY: Record<string, number> = {
  llhttp: Number(process.env.TUNNEL_LEAK_N ?? 1000),
  'node:http': Number(process.env.TUNNEL_LEAK_N ?? 200),
};
const CONCURRENCY = 50;

const WAYS = ['client-close', 'upstream-close', 'client-reset', 'upstream-reset', 'refused'] as const;
type Way = (typeof WAYS)[number];

/** Open TCP handles in this process (client, proxy and upstream sockets alike). */
function tcpHandles(): number {
  return process.getActiveResourcesInfo().filter((r) => r === 'TCPSocketWrap').length;
}

function socketOf(ws: WebSocket): net.Socket {
  return (ws as unknown as { _socket: net.Socket })._socket;
}

/** One connection that ends in `way`; resolves once the client side closed. */
function run(url: string, way: Way): Promise<void> {
  return new Promise((resolve) => {
    const ws = new WebSocket(`${url.replace('http:', 'ws:')}/${way}`);
    ws.on('error', () => {});
    ws.on('close', () => resolve());
    ws.on('unexpected-response', (req) => {
      // The refusal: drop the handshake's connection.
      req.destroy();
      resolve();
    });
    ws.on('open', () => {
      if (way === 'client-close' || way === 'client-reset') ws.send('ping');
    });
    ws.on('message', () => {
      if (way === 'client-close') ws.close(1000, 'done');
      else if (way === 'client-reset') socketOf(ws).resetAndDestroy();
    });
  });
}

async function runAll(url: string, way: Way, n: number): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < n) {
      next++;
      await run(url, way);
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
}

describe.each(DOWNSTREAMS)('%s downstream', (kind) => {
  beforeEach(() => useDownstream(kind));

  const perWay = PER_WAY[kind] as number;

  test(`${perWay} connections per way a tunnel ends: no socket left open`, async () => {
    const up = await res.httpServer((_req, r) => r.end('plain'));
    const wss = new WebSocketServer({
      server: up.server,
      verifyClient: (info: { req: http.IncomingMessage }, done: (ok: boolean, status?: number) => void) => done(info.req.url !== '/refused', 403),
    });
    res.defer(() => new Promise<void>((r) => wss.close(() => r())));
    wss.on('connection', (ws, req) => {
      ws.on('error', () => {});
      if (req.url === '/upstream-close') ws.close(1001, 'going away');
      else if (req.url === '/upstream-reset') socketOf(ws).resetAndDestroy();
      else ws.on('message', (d) => ws.send(d));
    });
    const peer = new HttpPeer(up.address);
    let logged = 0;
    const app: ProxyHttp<null> = {
      newCtx: () => null,
      upstreamPeer: () => peer,
      logging: () => {
        logged++;
      },
    };
    const { proxy, url } = await startProxy(res, app);
    const baseline = tcpHandles();

    for (const way of WAYS) {
      await runAll(url, way, perWay);
      await until(() => proxy.stats().activeConnections === 0, 10_000, `${way}: downstream connections closed`);
    }

    await until(() => logged === WAYS.length * perWay, 10_000, 'logging for every request');
    await until(() => proxy.stats().pool.activeConnections === 0, 10_000, 'upstream connections closed');
    const stats = proxy.stats();
    expect(stats.activeRequests).toBe(0);
    expect(stats.activeConnections).toBe(0);
    expect(stats.pool.activeConnections).toBe(0);
    // Refusals close their upstream connection (ws answers them with Connection: close): nothing idles.
    await until(() => tcpHandles() <= baseline + 2 * stats.pool.idleConnections, 10_000, 'TCP handles back to the baseline');
    expect(wss.clients.size).toBe(0);
  }, 90_000); // about 15 s alone; more when the rest of the suite shares the 2 cores
});
