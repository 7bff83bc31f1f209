// `node ws-echo-server.mjs`: a WebSocket echo server (`ws`) on 127.0.0.1 and a port the kernel
// picks. It echoes every message as it came (text or binary); a plain GET / gets 200 "hello\n",
// so health checks and readiness probes work. Prints {"event":"listening","port":N}.
import http from 'node:http';
import { WebSocketServer } from 'ws';

const server = http.createServer((_req, res) => res.end('hello\n'));
server.keepAliveTimeout = 75_000;
const wss = new WebSocketServer({ server, perMessageDeflate: false });
wss.on('connection', (ws) => {
  ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
  ws.on('error', () => ws.terminate());
});
server.listen(0, '127.0.0.1', () => {
  const addr = /** @type {import('node:net').AddressInfo} */ (server.address());
  process.stdout.write(`${JSON.stringify({ event: 'listening', port: addr.port })}\n`);
});
process.on('SIGTERM', () => process.exit(0));
