import http from 'node:http';
import { HttpPeer, HttpProxy } from '@pingora-ts/proxy';

// An upstream to proxy to (any HTTP/1.1 server works).
const upstream = http.createServer((req, res) => res.end(`upstream got ${req.url} via ${req.headers['x-proxied-by']}\n`));
await new Promise((resolve) => upstream.listen(0, '127.0.0.1', resolve));
const backend = new HttpPeer(`127.0.0.1:${upstream.address().port}`);

// Your own proxy: one object with the hooks you need.
const proxy = new HttpProxy('my-proxy', {
  newCtx: () => ({ startedBy: 'example' }),
  requestFilter(session) {
    if (session.path !== '/health') return false;
    session.respond(200, { 'content-type': 'text/plain' }, 'ok\n');
    return true; // answered here: nothing goes upstream
  },
  upstreamPeer: () => backend,
  upstreamRequestFilter(session, upstreamRequest, ctx) {
    upstreamRequest.headers.set('x-proxied-by', `pingora-ts (${ctx.startedBy})`);
  },
  logging(session, error) {
    const up = session.upstream ? `${session.upstream.address} ${session.upstream.reused ? 'reused' : 'new'}` : '-';
    const failed = error ? ` ${error.kind}` : '';
    console.log(`${session.method} ${session.path} ${session.status} ${session.bytesSent}B ${session.durationMs().toFixed(1)}ms ${up}${failed}`);
  },
}, { listeners: [{ addr: '127.0.0.1:0' }] });
await proxy.listen();

// Try it.
const { port } = proxy.addresses()[0];
for (const path of ['/health', '/hello', '/again']) {
  const res = await fetch(`http://127.0.0.1:${port}${path}`);
  process.stdout.write(`-> ${res.status} ${await res.text()}`);
}
await proxy.shutdown({ graceful: true, timeoutMs: 1000 });
upstream.close();
