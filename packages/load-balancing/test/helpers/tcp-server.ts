import { createServer, type Server, type Socket } from 'node:net';

/** A plain TCP server on 127.0.0.1 that can be killed and brought back on the same port. */
export interface TestServer {
  readonly port: number;
  readonly addr: string;
  /** Connections accepted so far. */
  readonly accepted: number;
  /** Stops listening and destroys every open connection. */
  kill(): Promise<void>;
  /** Listens again on the same port. */
  revive(): Promise<void>;
}

const live = new Set<() => Promise<void>>();

/** Starts a server on `127.0.0.1:port` (0: any free port). Killed by `closeAllServers()`. */
export async function startTcpServer(port = 0): Promise<TestServer> {
  const sockets = new Set<Socket>();
  let accepted = 0;
  let server: Server | null = null;
  let boundPort = port;

  const listen = async (): Promise<void> => {
    const s = createServer((socket) => {
      accepted++;
      sockets.add(socket);
      socket.on('error', () => {});
      socket.on('close', () => sockets.delete(socket));
    });
    await new Promise<void>((resolve, reject) => {
      s.once('error', reject);
      s.listen(boundPort, '127.0.0.1', () => resolve());
    });
    const address = s.address();
    if (address && typeof address === 'object') boundPort = address.port;
    server = s;
  };
  const kill = async (): Promise<void> => {
    const s = server;
    server = null;
    if (!s) return;
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  };

  await listen();
  live.add(kill);
  return {
    get port() {
      return boundPort;
    },
    get addr() {
      return `127.0.0.1:${boundPort}`;
    },
    get accepted() {
      return accepted;
    },
    kill,
    revive: listen,
  };
}

/** Kills every server started by `startTcpServer` (call in `afterEach`). */
export async function closeAllServers(): Promise<void> {
  const kills = [...live];
  live.clear();
  await Promise.all(kills.map((k) => k()));
}

/** A port on 127.0.0.1 where nothing listens (bound once, then closed). */
export async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', () => resolve()));
  const address = s.address();
  const port = address && typeof address === 'object' ? address.port : 0;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

/** Waits until `condition()` holds, checking every 10 ms, or throws after `timeoutMs`. */
export async function waitFor(condition: () => boolean, timeoutMs: number, what: string): Promise<number> {
  const start = Date.now();
  while (!condition()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
  return Date.now() - start;
}
