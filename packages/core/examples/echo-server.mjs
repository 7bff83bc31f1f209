// A TCP echo server run by a pingora-ts Server.
//   node echo-server.mjs [-c conf.yaml] [-d] [-t]      (PORT=7000 to choose the port)
// SIGTERM: stop accepting, let connected clients finish (up to
// graceful_shutdown_timeout_seconds), exit 0. SIGINT: close everything now, exit 0.
import { createServer } from 'node:net';
import { pipeline } from 'node:stream';
import { ConfError, Opt, OptError, Server } from '@pingora-ts/core';

/** A ListeningService: binds in listen(), reports addresses(), stops in shutdown(). */
class EchoService {
  kind = 'listening';
  name = 'echo';
  #port;
  #closed;
  #sockets = new Set();
  #server = createServer((socket) => {
    this.#sockets.add(socket);
    socket.on('close', () => this.#sockets.delete(socket));
    pipeline(socket, socket, () => socket.destroy()); // echo every byte back
  });

  constructor(port) {
    this.#port = port;
  }

  listen() {
    return new Promise((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(this.#port, '127.0.0.1', () => resolve());
    });
  }

  addresses() {
    const a = this.#server.address();
    return a && typeof a === 'object' ? [{ kind: 'tcp', host: a.address, port: a.port }] : [];
  }

  shutdown({ graceful, timeoutMs }) {
    const closeAll = () => this.#sockets.forEach((s) => s.destroy());
    this.#closed ??= new Promise((resolve) => this.#server.close(() => resolve()));
    if (!graceful) closeAll();
    else setTimeout(closeAll, timeoutMs).unref(); // what is still open then is cut
    return this.#closed;
  }
}

let server;
try {
  server = new Server(Opt.parse(process.argv.slice(2)));
} catch (err) {
  if (!(err instanceof OptError) && !(err instanceof ConfError)) throw err;
  console.error(err.message); // one line, e.g. conf.yaml:3:10: threads: expected an integer >= 1, got "two"
  process.exit(err instanceof OptError ? 2 : 1);
}

const echo = new EchoService(Number(process.env.PORT ?? 0));
server.addService(echo);
server.on('phase', (phase) => {
  if (phase === 'running') console.log(`echo listening on 127.0.0.1:${echo.addresses()[0].port}`);
});
await server.bootstrap(); // -t, -u, -d are handled here
await server.runForever(); // exits 0 after SIGTERM/SIGINT, 1 if the port is taken
