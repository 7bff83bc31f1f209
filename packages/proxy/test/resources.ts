/**
 * Test resources that clean up after themselves: every server and socket made through a
 * `Resources` is closed by `closeAll()` (call it in `afterEach`).
 */
import * as http from 'node:http';
import * as net from 'node:net';
import type { AddressInfo } from 'node:net';
import { HttpProxy, type HttpProxyOptions, type ProxyHttp } from '@pingora-ts/proxy';
import { Client } from 'undici';
import type { Logger } from '@pingora-ts/core';

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

// ---- proxy-specific helpers ----

/** Starts an HttpProxy on 127.0.0.1:0; it is shut down (not gracefully) in `closeAll()`. */
export async function startProxy<Ctx>(
  res: Resources,
  app: ProxyHttp<Ctx>,
  opts: Partial<HttpProxyOptions> = {},
): Promise<{ proxy: HttpProxy<Ctx>; port: number; url: string }> {
  const proxy = new HttpProxy('test-proxy', app, { listeners: [{ addr: '127.0.0.1:0' }], ...opts });
  await proxy.listen();
  res.defer(() => proxy.shutdown({ graceful: false, timeoutMs: 0 }));
  const a = proxy.addresses()[0];
  if (a === undefined || a.kind !== 'tcp') throw new Error('no tcp address');
  return { proxy, port: a.port, url: `http://127.0.0.1:${a.port}` };
}

/** An undici client closed in `closeAll()`. */
export function client(res: Resources, url: string, opts: ConstructorParameters<typeof Client>[1] = {}): Client {
  const c = new Client(url, opts);
  res.defer(() => c.destroy());
  return c;
}

/** A logger that records every line. */
export class MemoryLogger implements Logger {
  readonly lines: Array<{ level: string; obj: Record<string, unknown>; msg: string | undefined }> = [];
  error(obj: object, msg?: string): void {
    this.lines.push({ level: 'error', obj: obj as Record<string, unknown>, msg });
  }
  warn(obj: object, msg?: string): void {
    this.lines.push({ level: 'warn', obj: obj as Record<string, unknown>, msg });
  }
  info(obj: object, msg?: string): void {
    this.lines.push({ level: 'info', obj: obj as Record<string, unknown>, msg });
  }
  debug(obj: object, msg?: string): void {
    this.lines.push({ level: 'debug', obj: obj as Record<string, unknown>, msg });
  }
}

/** Sends raw bytes on a fresh TCP connection and collects everything until the server closes. */
export function rawExchange(res: Resources, port: number, data: string, timeoutMs = 3000): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = res.socket(net.connect(port, '127.0.0.1'));
    let out = '';
    const timer = setTimeout(() => {
      s.destroy();
      reject(new Error(`no close within ${timeoutMs} ms; got: ${JSON.stringify(out)}`));
    }, timeoutMs);
    s.on('data', (d) => (out += d.toString('latin1')));
    s.on('error', () => {});
    s.on('close', () => {
      clearTimeout(timer);
      resolve(out);
    });
    s.write(data);
  });
}
