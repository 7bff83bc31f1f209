// node peer: `node http-proxy-server.mjs PORT UPSTREAM_HOST:PORT`. HTTP through a keep-alive
// agent; WebSocket (and any Upgrade) through `proxy.ws()`, as http-proxy's docs show.
import http from 'node:http';
import httpProxy from 'http-proxy';

const [port, upstream] = process.argv.slice(2);
const agent = new http.Agent({ keepAlive: true, maxFreeSockets: 64 });
const proxy = httpProxy.createProxyServer({ target: `http://${upstream}`, agent });
proxy.on('error', (_err, _req, res) => {
  // The default rethrows (and crashes); answer 502 like the other peers, or drop a tunnel.
  if ('writeHead' in res) {
    if (!res.headersSent) res.writeHead(502);
    res.end();
  } else {
    res.destroy();
  }
});
const server = http.createServer((req, res) => proxy.web(req, res));
server.on('upgrade', (req, socket, head) => proxy.ws(req, socket, head));
server.keepAliveTimeout = 75_000;
server.listen(Number(port), '127.0.0.1');
process.on('SIGTERM', () => process.exit(0));
