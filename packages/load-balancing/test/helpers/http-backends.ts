import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

/** One local HTTP backend for dispatcher tests. */
export interface HttpBackend {
  readonly name: string;
  readonly addr: string;
  readonly server: Server;
  /** Requests it received (counted when their head arrived). */
  readonly received: number;
  /** Connections open now. */
  readonly openConnections: number;
  /** Stops listening and destroys every connection at once (requests in flight break). */
  kill(): void;
}

/**
 * What a backend does with a request; the default answers 200 with a JSON echo of its name,
 * method, URL, `host` and `x-test` headers and body.
 */
export type BackendBehaviour = (req: IncomingMessage, res: ServerResponse, name: string) => void;

export const echo: BackendBehaviour = (req, res, name) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const body = JSON.stringify({
      name,
      method: req.method,
      url: req.url,
      host: req.headers.host,
      test: req.headers['x-test'] ?? null,
      body: Buffer.concat(chunks).toString(),
    });
    res.setHeader('content-type', 'application/json');
    res.end(body);
  });
};

const live = new Set<{ server: Server; sockets: Set<Socket> }>();

/** Starts an HTTP server on 127.0.0.1:0 named `name`. Stopped by `stopAllBackends()`. */
export async function startBackend(name: string, behaviour: BackendBehaviour = echo): Promise<HttpBackend> {
  const sockets = new Set<Socket>();
  let received = 0;
  const server = createServer((req, res) => {
    received++;
    behaviour(req, res, name);
  });
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  const entry = { server, sockets };
  live.add(entry);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    name,
    addr: `127.0.0.1:${port}`,
    server,
    get received() {
      return received;
    },
    get openConnections() {
      return sockets.size;
    },
    kill() {
      server.close();
      for (const s of sockets) s.destroy();
    },
  };
}

/** Stops every backend `startBackend` made (call in `afterEach`). */
export async function stopAllBackends(): Promise<void> {
  const all = [...live];
  live.clear();
  await Promise.all(
    all.map(
      ({ server, sockets }) =>
        new Promise<void>((resolve) => {
          for (const s of sockets) s.destroy();
          if (!server.listening) return resolve();
          server.close(() => resolve());
        }),
    ),
  );
}
