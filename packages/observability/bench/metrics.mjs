// ProxyMetrics' cost per request, without sockets: what the proxy does per request when it
// publishes (the three diagnostics channels, the messages built as packages/proxy/src/
// diagnostics.ts builds them) and what the load balancer reports (one attempt), with
// ProxyMetrics subscribed against nobody subscribed. Rounds alternate; medians are printed.
//   pnpm build && node bench/metrics.mjs [requests per round]     (default 1e6)
import { channel } from 'node:diagnostics_channel';
import { ProxyMetrics } from '../dist/index.js';

const N = Number(process.argv[2] ?? 1e6);
const start = channel('pingora-ts:proxy:request-start');
const end = channel('pingora-ts:proxy:request');
const conn = channel('pingora-ts:proxy:upstream-connection');
const session = { method: 'GET', path: '/', status: 200, bytesSent: 6, clientAddr: '127.0.0.1:5000', retries: 0, t0: performance.now() };
const backend = { addr: '127.0.0.1:8001' };
const statuses = [200, 200, 200, 404, 200, 503, 200, 200];

/** One request's publishing, as the proxy and LbProxy do it. */
function request(i, upstream) {
  if (start.hasSubscribers) start.publish({ service: 'web', session });
  upstream?.requestStarted(backend);
  if (conn.hasSubscribers) conn.publish({ service: 'web', address: backend.addr, reused: true });
  upstream?.requestEnded(backend, 'ok', 0.4);
  if (end.hasSubscribers) {
    end.publish({
      service: 'web', method: session.method, path: session.path, status: statuses[i & 7], bytesSent: session.bytesSent,
      durationMs: performance.now() - session.t0, clientAddr: session.clientAddr, upstream: backend.addr, reused: true,
      retries: 0, error: null, session,
    });
  }
}

function round(metrics) {
  if (metrics) metrics.start();
  const upstream = metrics?.upstream('web') ?? null;
  const t = process.hrtime.bigint();
  for (let i = 0; i < N; i++) request(i, upstream);
  const ns = Number(process.hrtime.bigint() - t) / N;
  metrics?.stop();
  return ns;
}

const off = [];
const on = [];
const metrics = new ProxyMetrics();
for (let r = 0; r < 7; r++) {
  off.push(round(null));
  on.push(round(metrics));
}
const median = (a) => [...a].sort((x, y) => x - y)[a.length >> 1];
console.log(`per request, median of 7 rounds of ${N}: off ${median(off).toFixed(0)} ns, on ${median(on).toFixed(0)} ns, metrics cost ${(median(on) - median(off)).toFixed(0)} ns`);
const text = await metrics.text();
console.log(text.split('\n').filter((l) => l.startsWith('pingora_ts_requests_total')).join('\n'));
