import http from 'node:http';
import { HttpPeer, HttpProxy } from '@pingora-ts/proxy';

// An origin that says how long its answers stay fresh, and counts what it is asked.
let asked = 0;
const origin = http.createServer((req, res) => {
  asked++;
  if (req.headers['if-none-match'] === '"v1"') return void res.writeHead(304, { etag: '"v1"' }).end();
  res.writeHead(200, { 'cache-control': 'public, max-age=60', etag: '"v1"' });
  res.end(`page ${req.url}\n`);
});
await new Promise((resolve) => origin.listen(0, '127.0.0.1', resolve));
const backend = new HttpPeer(`127.0.0.1:${origin.address().port}`);

// `cache: {}` is a correct RFC 9111 shared cache in memory; the hooks keep their defaults.
const proxy = new HttpProxy('caching-proxy', {
  newCtx: () => ({}),
  upstreamPeer: () => backend,
  logging(session) {
    console.log(`${session.method} ${session.path} ${session.status} ${session.cache?.status}`);
  },
}, { listeners: [{ addr: '127.0.0.1:0' }], cache: { maxSizeBytes: 16 << 20, purgeAllow: ['127.0.0.1'] } });
await proxy.listen();

// fetch() sends a conditional request with `Cache-Control: no-cache`: the cache revalidates
// its copy with the origin (a 304), then answers the client's condition itself (another 304).
const url = `http://127.0.0.1:${proxy.addresses()[0].port}/hello`;
for (const headers of [{}, {}, { 'if-none-match': '"v1"' }, { range: 'bytes=0-3' }]) {
  const res = await fetch(url, { headers });
  process.stdout.write(`-> ${res.status} ${res.headers.get('x-cache-status')} ${JSON.stringify(await res.text())}\n`);
}
await fetch(url, { method: 'PURGE' });
await fetch(url);
console.log(`the origin was asked ${asked} times`);
await proxy.shutdown({ graceful: true, timeoutMs: 1000 });
origin.close();
