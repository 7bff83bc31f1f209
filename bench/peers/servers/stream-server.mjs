// `node stream-server.mjs`: the upstream of h2-stream-memory, on two ports the kernel picks:
// HTTP/1.1 (node:http) and h2c (node:http2), with the same routes:
//   GET  /             200 "hello\n"
//   GET  /gen?bytes=N  200, N bytes streamed from one reused 64 KiB buffer, with backpressure
//   POST /sink         reads and discards the body, then 200 with the byte count
// Prints {"event":"listening","port":H1,"h2cPort":H2}.
import http from 'node:http';
import http2 from 'node:http2';

const CHUNK = Buffer.alloc(64 * 1024, 'x');

/**
 * @param {http.IncomingMessage | http2.Http2ServerRequest} req
 * @param {http.ServerResponse | http2.Http2ServerResponse} res
 */
function handle(req, res) {
  const url = new URL(req.url ?? '/', 'http://x');
  if (req.method === 'POST' && url.pathname === '/sink') {
    let n = 0;
    req.on('data', (/** @type {Buffer} */ d) => (n += d.length));
    req.on('end', () => res.end(`${n}\n`));
    return;
  }
  if (url.pathname === '/gen') {
    let left = Number(url.searchParams.get('bytes') ?? 0);
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(left) });
    const pump = () => {
      while (left > 0) {
        const chunk = left >= CHUNK.length ? CHUNK : CHUNK.subarray(0, left);
        left -= chunk.length;
        if (!/** @type {http.ServerResponse} */ (res).write(chunk)) return void res.once('drain', pump);
      }
      res.end();
    };
    pump();
    return;
  }
  res.end('hello\n');
}

const h1 = http.createServer(handle);
h1.keepAliveTimeout = 75_000;
const h2 = http2.createServer(handle);
await Promise.all([h1, h2].map((s) => new Promise((resolve) => s.listen(0, '127.0.0.1', () => resolve(undefined)))));
const port = (/** @type {import('node:net').Server} */ s) => /** @type {import('node:net').AddressInfo} */ (s.address()).port;
process.stdout.write(`${JSON.stringify({ event: 'listening', port: port(h1), h2cPort: port(h2) })}\n`);
process.on('SIGTERM', () => process.exit(0));
