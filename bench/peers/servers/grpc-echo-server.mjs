// `node grpc-echo-server.mjs`: an h2c gRPC server (@grpc/grpc-js) on 127.0.0.1 and a port the
// kernel picks, serving /bench.Echo/Unary. Prints {"event":"listening","port":N}.
import { ECHO_SERVICE, grpc } from '../../lib/grpc-echo.mjs';

const server = new grpc.Server();
server.addService(ECHO_SERVICE, { unary: (/** @type {any} */ call, /** @type {any} */ cb) => cb(null, call.request) });
server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, port) => {
  if (err) {
    console.error(err.message);
    process.exit(1);
  }
  process.stdout.write(`${JSON.stringify({ event: 'listening', port })}\n`);
});
process.on('SIGTERM', () => server.forceShutdown() ?? process.exit(0));
