import http from 'node:http';
import { WebSocket, WebSocketServer } from 'ws';
import { HttpPeer, HttpProxy } from '@pingora-ts/proxy';

// A WebSocket echo server to proxy to.
const upstream = http.createServer();
new WebSocketServer({ server: upstream }).on('connection', (ws) => ws.on('message', (m) => ws.send(`echo: ${m}`)));
await new Promise((resolve) => upstream.listen(0, '127.0.0.1', resolve));
const backend = new HttpPeer(`127.0.0.1:${upstream.address().port}`);

// Nothing WebSocket-specific: the Upgrade request and the 101 pass through the usual hooks,
// then the proxy moves bytes both ways until either side closes (or stays silent too long).
let tunnelLogged;
const logged = new Promise((resolve) => (tunnelLogged = resolve));
const proxy = new HttpProxy('ws-proxy', {
  newCtx: () => ({}),
  upstreamPeer: () => backend,
  logging(session) {
    const t = session.tunnel; // null for plain requests
    if (t !== null) console.log(`${session.method} ${session.path} ${session.status}: ${t.bytesUp}B up, ${t.bytesDown}B down, ${t.reason}`);
    tunnelLogged();
  },
}, { listeners: [{ addr: '127.0.0.1:0' }], tunnelIdleTimeoutMs: 60_000 });
await proxy.listen();

// Try it with a WebSocket client.
const { port } = proxy.addresses()[0];
const ws = new WebSocket(`ws://127.0.0.1:${port}/chat`);
await new Promise((resolve) => ws.once('open', resolve));
ws.send('hello');
console.log(`-> ${await new Promise((resolve) => ws.once('message', (m) => resolve(m.toString())))}`);
ws.close(1000, 'bye');
await logged;
await proxy.shutdown({ graceful: true, timeoutMs: 1000 });
upstream.close();
