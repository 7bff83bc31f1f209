/**
 * ProxyMetrics against a real HttpProxy on 127.0.0.1, with real upstreams and an undici
 * client: what the proxy publishes becomes the documented metrics.
 */
import { MetricsAggregator, ProxyMetrics, type MetricFamily } from '@pingora-ts/observability';
import { HttpPeer, HttpProxy, type ProxyHttp } from '@pingora-ts/proxy';
import { request } from 'undici';
import { Resources, sleep, until } from '../../../test-support/resources';

const res = new Resources();
let metrics: ProxyMetrics | undefined;
afterEach(async () => {
  metrics?.stop();
  metrics = undefined;
  await res.closeAll();
});

async function startProxy(name: string, app: ProxyHttp<{ tries: number }>): Promise<string> {
  const proxy = new HttpProxy(name, app, { listeners: [{ addr: '127.0.0.1:0' }], maxRetries: 1 });
  await proxy.listen();
  res.defer(() => proxy.shutdown({ graceful: false, timeoutMs: 0 }));
  const a = proxy.addresses()[0];
  if (a?.kind !== 'tcp') throw new Error('no tcp address');
  return `http://127.0.0.1:${a.port}`;
}

/** The value of the sample of `family` whose labels include `labels` (0 when none). */
function value(families: MetricFamily[], family: string, labels: Record<string, string>, metricName = family): number {
  const f = families.find((x) => x.name === family);
  const s = f?.values.find((v) => (v.metricName ?? family) === metricName && Object.entries(labels).every(([k, want]) => String(v.labels[k]) === want));
  return s?.value ?? 0;
}

test('requests by status, durations, in-flight, upstream connections and attempts of a real proxy', async () => {
  let hold: (() => void) | null = null;
  const up = await res.httpServer((req, r) => {
    if (req.url === '/hold') hold = () => r.end('held');
    else r.writeHead(req.url === '/missing' ? 404 : 200).end('ok');
  });
  const dead = await res.httpServer(() => {});
  await new Promise<void>((resolve) => dead.server.close(() => resolve())); // connect refused from now on
  metrics = new ProxyMetrics().start();
  const attempts = metrics.upstream('web');
  const good = new HttpPeer(up.address);
  const refused = new HttpPeer(dead.address);
  const url = await startProxy('web', {
    newCtx: () => ({ tries: 0 }),
    // `/retry` tries the dead backend first, then the good one.
    upstreamPeer: (session, ctx) => {
      const peer = session.path === '/retry' && ctx.tries++ === 0 ? refused : good;
      attempts.requestStarted({ addr: peer.address });
      return peer;
    },
    failToConnect: (_s, peer, _ctx, e) => {
      attempts.requestEnded({ addr: peer.address }, 'connect_error', 1);
      attempts.retried(peer.address);
      return e;
    },
    logging: (session) => {
      if (session.upstream !== null && session.status !== 0) attempts.requestEnded({ addr: session.upstream.address }, 'ok', 1);
    },
  });

  for (let i = 0; i < 5; i++) await (await request(`${url}/`)).body.text();
  for (let i = 0; i < 2; i++) await (await request(`${url}/missing`)).body.text();
  const retried = await request(`${url}/retry`);
  expect(retried.statusCode).toBe(200);
  await retried.body.text();

  const held = request(`${url}/hold`);
  await until(() => hold !== null);
  let snap = await metrics.snapshot();
  expect(value(snap, 'pingora_ts_inflight_requests', { service: 'web' })).toBe(1);
  (hold as unknown as () => void)();
  await (await held).body.text();
  // The request ends (and is counted) right after its last byte went out.
  for (let i = 0; i < 100 && value(await metrics.snapshot(), 'pingora_ts_inflight_requests', { service: 'web' }) !== 0; i++) await sleep(10);

  snap = await metrics.snapshot();
  expect(value(snap, 'pingora_ts_requests_total', { service: 'web', status: '200' })).toBe(7);
  expect(value(snap, 'pingora_ts_requests_total', { service: 'web', status: '404' })).toBe(2);
  const d = 'pingora_ts_request_duration_seconds';
  expect(value(snap, d, { service: 'web' }, `${d}_count`)).toBe(9);
  expect(value(snap, d, { service: 'web', le: '+Inf' }, `${d}_bucket`)).toBe(9);
  expect(value(snap, d, { service: 'web', le: '10' }, `${d}_bucket`)).toBe(9);
  expect(value(snap, d, { service: 'web' }, `${d}_sum`)).toBeGreaterThan(0);
  // One client connection in turn, so the proxy's upstream connection is reused.
  const conns = (reused: string): number => value(snap, 'pingora_ts_upstream_connections_total', { service: 'web', backend: up.address, reused });
  expect(conns('false') + conns('true')).toBe(9);
  expect(conns('true')).toBeGreaterThan(0);
  const outcome = (backend: string, o: string): number => value(snap, 'pingora_ts_upstream_requests_total', { service: 'web', backend, outcome: o });
  expect(outcome(up.address, 'ok')).toBe(9);
  expect(outcome(dead.address, 'connect_error')).toBe(1);
  expect(outcome(dead.address, 'retried')).toBe(1);

  const text = await metrics.text();
  expect(text).toContain('# TYPE pingora_ts_requests_total counter');
  expect(text).toContain('pingora_ts_requests_total{service="web",status="200"} 7');
  expect(text).toContain('pingora_ts_request_duration_seconds_bucket{le="0.0005",service="web"}');
  expect(text).toMatch(/^process_cpu_user_seconds_total /m); // Node's default metrics
  // Nothing taken from a request's path or host.
  expect(text).not.toContain('/missing');
});

test('an upstream address no backend list named is labelled other; backend health and pool idle are read at scrape', async () => {
  const up = await res.httpServer((_req, r) => r.end('ok'));
  metrics = new ProxyMetrics({ defaultMetrics: false }).start();
  const peer = new HttpPeer(up.address);
  const url = await startProxy('api', { newCtx: () => ({ tries: 0 }), upstreamPeer: () => peer });
  await (await request(`${url}/`)).body.text();
  let healthy = true;
  metrics.trackBackends('api', () => [{ addr: up.address, healthy }]);
  metrics.trackPool(() => ({ idleConnections: 3 }));
  let snap = await metrics.snapshot();
  expect(value(snap, 'pingora_ts_upstream_connections_total', { service: 'api', backend: 'other', reused: 'false' })).toBe(1);
  expect(value(snap, 'pingora_ts_backend_healthy', { service: 'api', backend: up.address })).toBe(1);
  expect(value(snap, 'pingora_ts_upstream_idle_connections', {})).toBe(3);
  healthy = false;
  snap = await metrics.snapshot();
  expect(snap.find((f) => f.name === 'pingora_ts_backend_healthy')?.values).toEqual([{ value: 0, labels: { service: 'api', backend: up.address } }]);
  expect(snap.some((f) => f.name.startsWith('process_'))).toBe(false);
});

test('span exports and Sentry events are read at scrape; without a source their families are empty', async () => {
  metrics = new ProxyMetrics({ defaultMetrics: false });
  let snap = await metrics.snapshot();
  expect(snap.find((f) => f.name === 'pingora_ts_tracing_spans_dropped_total')?.values).toEqual([]);
  expect(snap.find((f) => f.name === 'pingora_ts_sentry_events_sent_total')?.values).toEqual([]);
  const spans = { exported: 7, queueFull: 2, exportFailed: 5 };
  metrics.trackSpanExport(() => spans);
  metrics.trackSentry(() => ({ sent: 3, dropped: 1 }));
  spans.exportFailed = 6; // read when scraped, not when tracked
  snap = await metrics.snapshot();
  expect(value(snap, 'pingora_ts_tracing_spans_exported_total', {})).toBe(7);
  expect(value(snap, 'pingora_ts_tracing_spans_dropped_total', { reason: 'queue_full' })).toBe(2);
  expect(value(snap, 'pingora_ts_tracing_spans_dropped_total', { reason: 'export_failed' })).toBe(6);
  expect(value(snap, 'pingora_ts_sentry_events_sent_total', {})).toBe(3);
  expect(value(snap, 'pingora_ts_sentry_events_dropped_total', {})).toBe(1);
});

test('after stop() nothing is counted (and nothing is built: the proxy publishes only to subscribers)', async () => {
  const up = await res.httpServer((_req, r) => r.end('ok'));
  metrics = new ProxyMetrics({ defaultMetrics: false }).start();
  const peer = new HttpPeer(up.address);
  const url = await startProxy('web', { newCtx: () => ({ tries: 0 }), upstreamPeer: () => peer });
  await (await request(`${url}/`)).body.text();
  metrics.stop();
  await (await request(`${url}/`)).body.text();
  expect(value(await metrics.snapshot(), 'pingora_ts_requests_total', { service: 'web', status: '200' })).toBe(1);
});

describe('MetricsAggregator', () => {
  const counter = (n: number): MetricFamily => ({ name: 'c_total', help: 'c', type: 'counter', aggregator: 'sum', values: [{ value: n, labels: { service: 'web' } }] });
  const gauge = (n: number): MetricFamily => ({ name: 'g', help: 'g', type: 'gauge', aggregator: 'sum', values: [{ value: n, labels: {} }] });
  const read = async (agg: Promise<import('prom-client').Registry>, name: string): Promise<number | undefined> =>
    ((await (await agg).getMetricsAsJSON()).find((f) => f.name === name)?.values[0]?.value);

  test('sums the workers with this process, and keeps the counters of a worker that is gone', async () => {
    const agg = new MetricsAggregator();
    const own = [counter(0), gauge(1)];
    expect(await read(agg.aggregate(own, [{ pid: 10, payload: [counter(3), gauge(2)] }, { pid: 11, payload: [counter(4), gauge(5)] }], [10, 11]), 'c_total')).toBe(7);
    // Worker 10 died and was replaced by 12 (nothing counted yet); 11 did not answer this time.
    const after = agg.aggregate(own, [{ pid: 12, payload: [counter(0), gauge(0)] }], [11, 12]);
    expect(await read(after, 'c_total')).toBe(7);
    const again = agg.aggregate(own, [{ pid: 12, payload: [counter(2), gauge(1)] }, { pid: 11, payload: [counter(4), gauge(5)] }], [11, 12]);
    expect(await read(again, 'c_total')).toBe(9);
    expect(await read(again, 'g')).toBe(1 + 1 + 5); // the dead worker's gauge is gone
  });

  test('an answer that is not a metrics snapshot is ignored', async () => {
    const agg = new MetricsAggregator();
    expect(await read(agg.aggregate([counter(1)], [{ pid: 1, payload: 'garbage' }, { pid: 2, payload: [{ nope: 1 }] }], [1, 2]), 'c_total')).toBe(1);
  });
});
