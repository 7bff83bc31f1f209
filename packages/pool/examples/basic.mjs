// Reuse upstream connections from any Node program: three requests, one TCP connection.
import http from 'node:http';
import { ConnectionPool } from '@pingora-ts/pool';

// An upstream to talk to (any HTTP/1.1 server).
const server = http.createServer((req, res) => res.end(`hello from ${req.url}`));
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const peer = { address: `127.0.0.1:${server.address().port}`, tls: false, sni: '' };

const pool = new ConnectionPool({ size: 16, idleTimeoutMs: 30_000 });
for (const path of ['/a', '/b', '/c']) {
  const res = await pool.request(peer, { path });
  console.log(res.status, res.body.toString(), res.reused ? '(reused connection)' : '(new connection)');
}
console.log(pool.stats());

await pool.close();
server.close();
