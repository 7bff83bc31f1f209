// A TCP echo server run by a pingora-ts Server, on core's listeners.
//   node echo-server.mjs [-c conf.yaml] [-d] [-t] [-u]   (PORT=7000 to choose the port)
// SIGTERM: stop accepting, let connected clients finish (up to
// graceful_shutdown_timeout_seconds), exit 0. SIGINT: close everything now, exit 0.
// SIGHUP: start the next generation on the same socket, then drain and exit.
// `threads: 2` in the conf: two worker processes accept on the same socket.
import { pipeline } from 'node:stream';
import { ConfError, Opt, OptError, Server, openListener } from '@pingora-ts/core';

/** A ListeningService: declares its listeners, opens them in listen(ctx), drains in shutdown(). */
class EchoService {
  kind = 'listening';
  name = 'echo';
  listenerConfigs;
  #listeners = [];
  #sockets = new Set();

  constructor(port) {
    this.listenerConfigs = [{ addr: `127.0.0.1:${port}` }];
  }

  #onConnection = (socket) => {
    this.#sockets.add(socket);
    socket.on('close', () => this.#sockets.delete(socket));
    pipeline(socket, socket, () => socket.destroy()); // echo every byte back
  };

  async listen(ctx) {
    // Under a Server, ctx.openListener reuses core's socket (workers, upgrades);
    // on its own, the service binds with the standalone openListener.
    const open = ctx ? ctx.openListener : openListener;
    for (const cfg of this.listenerConfigs) this.#listeners.push(await open(cfg, this.#onConnection));
  }

  addresses() {
    return this.#listeners.map((l) => l.address());
  }

  async shutdown({ graceful, timeoutMs }) {
    await Promise.all(this.#listeners.map((l) => l.stopAccepting()));
    const closeAll = () => this.#sockets.forEach((s) => s.destroy());
    if (!graceful) return closeAll();
    const deadline = Date.now() + timeoutMs; // what is still open then is cut
    while (this.#sockets.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    closeAll();
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

server.addService(new EchoService(Number(process.env.PORT ?? 0)));
server.on('phase', (phase) => {
  if (phase === 'running' && server.role !== 'worker') {
    const a = server.listenerAddresses()[0];
    console.log(`echo listening on ${a.host}:${a.port} (pid ${process.pid}, ${server.role})`);
  }
});
await server.bootstrap(); // -h -V -t are answered here, -d daemonizes (done: nothing more to run)
await server.runForever(); // the exit code: 0 after SIGTERM/SIGINT or an upgrade, 1 if the port is taken
