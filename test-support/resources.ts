/**
 * Test resources that clean up after themselves: every server and socket made through a
 * `Resources` is closed by `closeAll()` (call it in `afterEach`).
 */
import * as http from 'node:http';
import * as net from 'node:net';
import type { AddressInfo } from 'node:net';

export class Resources {
  private readonly servers = new Set<net.Server>();
  private readonly sockets = new Set<net.Socket>();
  private readonly closers: Array<() => unknown> = [];

  /** A node:http server on 127.0.0.1:0 that tracks its connections. */
  async httpServer(handler: http.RequestListener): Promise<{ server: http.Server; port: number; address: string }> {
    const server = http.createServer(handler);
    this.track(server);
    await listen(server);
    const port = (server.address() as AddressInfo).port;
    return { server, port, address: `127.0.0.1:${port}` };
  }

  /** A raw TCP server on 127.0.0.1:0. */
  async netServer(onConnection: (socket: net.Socket) => void): Promise<{ server: net.Server; port: number; address: string }> {
    const server = net.createServer(onConnection);
    this.track(server);
    await listen(server);
    const port = (server.address() as AddressInfo).port;
    return { server, port, address: `127.0.0.1:${port}` };
  }

  /** Tracks any server so its sockets are destroyed and it is closed at the end. */
  track<S extends net.Server>(server: S): S {
    this.servers.add(server);
    server.on('connection', (s: net.Socket) => this.socket(s));
    server.on('secureConnection', (s: net.Socket) => this.socket(s));
    return server;
  }

  socket<S extends net.Socket>(s: S): S {
    this.sockets.add(s);
    s.on('close', () => this.sockets.delete(s));
    return s;
  }

  /** Runs `fn` during `closeAll()` (before servers close). */
  defer(fn: () => unknown): void {
    this.closers.push(fn);
  }

  /** A port nothing listens on (bound then closed). */
  async refusedPort(): Promise<number> {
    const server = net.createServer();
    await listen(server);
    const port = (server.address() as AddressInfo).port;
    await new Promise<void>((r) => server.close(() => r()));
    return port;
  }

  async closeAll(): Promise<void> {
    for (const fn of this.closers.splice(0).reverse()) await fn();
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    await Promise.all([...this.servers].map((s) => new Promise<void>((r) => s.close(() => r()))));
    this.servers.clear();
  }
}

function listen(server: net.Server): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls `cond` every 10 ms until true or `timeoutMs` passes (then throws). */
export async function until(cond: () => boolean, timeoutMs = 3000, what = 'condition'): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}
