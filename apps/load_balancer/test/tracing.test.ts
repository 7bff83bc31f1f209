/**
 * `tracing:` end to end: the load balancer (a real process) exports its spans over OTLP/HTTP
 * JSON to a collector stub on 127.0.0.1, and sends the trace context to a real upstream that
 * records it. A collector that is down, slow or answering garbage changes nothing for the
 * requests; the dropped spans are counted and reported (one warning line per minute).
 */
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createNetServer, type AddressInfo, type Server as NetServer, type Socket } from 'node:net';
import { adminUrl, get } from './admin-client';
import { Harness, lbConf, sleep, type RunningLb, type Upstream } from './harness';

let h: Harness;
const closers: Array<() => Promise<void>> = [];
beforeEach(() => {
  h = new Harness();
});
afterEach(async () => {
  await h.cleanup();
  for (const close of closers.splice(0)) await close();
});

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';

/** A client span id per request, so each request's trace is told apart. */
function traceparent(i: number): string {
  return `00-${TRACE.slice(0, 28)}${String(i).padStart(4, '0')}-00f067aa0ba902b${i % 10}-01`;
}

interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes: Record<string, string | number | boolean>;
  status: { code?: number };
}

/** OTLP's span kinds (the API's SpanKind + 1). */
const KIND_SERVER = 2;
const KIND_CLIENT = 3;

/** A collector stub: every POST to /v1/traces decoded from OTLP JSON. */
async function collector(): Promise<{ url: string; spans: OtlpSpan[]; resources: Array<Record<string, unknown>>; posts: () => number }> {
  const spans: OtlpSpan[] = [];
  const resources: Array<Record<string, unknown>> = [];
  let posts = 0;
  const server = await listenHttp((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (d: string) => (body += d));
    req.on('end', () => {
      posts++;
      expect(req.url).toBe('/v1/traces');
      expect(req.headers['content-type']).toContain('application/json');
      const msg = JSON.parse(body) as { resourceSpans: Array<{ resource: { attributes: KeyValue[] }; scopeSpans: Array<{ spans: RawSpan[] }> }> };
      for (const rs of msg.resourceSpans) {
        resources.push(decodeAttributes(rs.resource.attributes));
        for (const ss of rs.scopeSpans) for (const s of ss.spans) spans.push({ ...s, attributes: decodeAttributes(s.attributes) });
      }
      res.setHeader('content-type', 'application/json');
      res.end('{}');
    });
  });
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, spans, resources, posts: () => posts };
}

type KeyValue = { key: string; value: { stringValue?: string; intValue?: number | string; boolValue?: boolean; doubleValue?: number } };
type RawSpan = Omit<OtlpSpan, 'attributes'> & { attributes: KeyValue[] };

function decodeAttributes(kvs: KeyValue[]): Record<string, string | number | boolean> {
  const out: Record<string, string | number | boolean> = {};
  for (const { key, value } of kvs) out[key] = value.stringValue ?? (value.intValue !== undefined ? Number(value.intValue) : (value.boolValue ?? value.doubleValue ?? ''));
  return out;
}

async function listenHttp(handler: Parameters<typeof createHttpServer>[1]): Promise<Server> {
  const server = createHttpServer(handler as never);
  const sockets = new Set<Socket>();
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  closers.push(async () => {
    for (const s of sockets) s.destroy();
    await new Promise((resolve) => server.close(resolve));
  });
  return server;
}

async function listenNet(onConnection: (s: Socket) => void): Promise<NetServer> {
  const sockets = new Set<Socket>();
  const server = createNetServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => {});
    onConnection(s);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  closers.push(async () => {
    for (const s of sockets) s.destroy();
    await new Promise((resolve) => server.close(resolve));
  });
  return server;
}

/** A port nothing listens on. */
async function refusedPort(): Promise<number> {
  const s = createNetServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const port = (s.address() as AddressInfo).port;
  await new Promise((resolve) => s.close(resolve));
  return port;
}

/** An upstream recording the `traceparent` of each request (by path). */
async function recordingUpstream(): Promise<{ up: Upstream; seen: Map<string, string | undefined> }> {
  const seen = new Map<string, string | undefined>();
  const up = await h.upstream(0, (req, res) => {
    seen.set(req.url ?? '', req.headers.traceparent as string | undefined);
    req.resume();
    req.on('end', () => res.end('ok'));
  });
  return { up, seen };
}

function tracingConf(endpoint: string, extra = ''): string {
  return ['tracing:', `  otlp_endpoint: ${endpoint}`, '  service_name: lb-under-test', '  export_delay_ms: 20', extra].filter((l) => l !== '').join('\n');
}

async function until(cond: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  for (let waited = 0; !cond(); waited += 20) {
    if (waited > timeoutMs) throw new Error(`timed out waiting for ${what}`); // a bound for a loaded CI machine
    await sleep(20);
  }
}

describe('-t checks the tracing section', () => {
  test('a good one passes', async () => {
    const conf = h.file('ok.yaml', lbConf(h.dir, ['127.0.0.1:1'], tracingConf('http://127.0.0.1:4318', '  sample_ratio: 0.01')));
    const r = await h.run(['-t', '-c', conf]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
  });

  test.each([
    ['  sample_rate: 0.5', /tracing\.sample_rate.*"sample_ratio"/],
    ['  sample_ratio: 2', /tracing\.sample_ratio/],
    ['  max_queue_size: 10\n  max_export_batch_size: 20', /tracing\.max_export_batch_size: must not exceed max_queue_size/],
  ])('%j is refused, naming the key and the file', async (extra, expected) => {
    const conf = h.file('bad.yaml', lbConf(h.dir, ['127.0.0.1:1'], tracingConf('http://127.0.0.1:4318', extra)));
    const r = await h.run(['-t', '-c', conf]);
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain('bad.yaml');
    expect(r.stderr).toMatch(expected);
  });

  test('an endpoint that is not an http(s) URL is refused', async () => {
    const conf = h.file('bad.yaml', lbConf(h.dir, ['127.0.0.1:1'], tracingConf('localhost:4318')));
    const r = await h.run(['-t', '-c', conf]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/tracing\.otlp_endpoint: expected an http:\/\/ or https:\/\/ URL/);
  });
});

test('spans reach the collector: the server span is the child of the client span, one client span per attempt, the upstream sees the client span as parent', async () => {
  const otlp = await collector();
  const { up, seen } = await recordingUpstream();
  // A refused backend first: round robin sends some request there, and its retry goes to the good one.
  const refused = `127.0.0.1:${await refusedPort()}`;
  const lb = await h.start(lbConf(h.dir, [refused, up.addr], tracingConf(otlp.url)));
  const requests = 4;
  for (let i = 0; i < requests; i++) {
    const r = await fetch(`${lb.url}/r${i}?x=1`, { headers: { traceparent: traceparent(i), 'user-agent': 'trace-test' } });
    expect(r.status).toBe(200);
    await r.text();
  }
  await until(() => otlp.spans.filter((s) => s.kind === KIND_SERVER).length === requests, 'the server spans');
  await until(() => otlp.spans.filter((s) => s.kind === KIND_CLIENT).length >= requests + 1, 'the client spans');
  expect(otlp.resources[0]).toMatchObject({ 'service.name': 'lb-under-test' });

  let retried = 0;
  for (let i = 0; i < requests; i++) {
    const [, traceId, clientSpanId] = traceparent(i).split('-');
    const server = otlp.spans.filter((s) => s.kind === KIND_SERVER && s.traceId === traceId);
    expect(server).toHaveLength(1);
    const s = server[0] as OtlpSpan;
    expect(s.parentSpanId).toBe(clientSpanId);
    expect(s.name).toBe('GET');
    expect(s.attributes).toMatchObject({
      'http.request.method': 'GET',
      'url.path': `/r${i}`,
      'url.scheme': 'http',
      'server.address': '127.0.0.1',
      'server.port': lb.port,
      'network.protocol.version': '1.1',
      'user_agent.original': 'trace-test',
      'http.response.status_code': 200,
    });
    const attempts = otlp.spans.filter((c) => c.kind === KIND_CLIENT && c.traceId === traceId);
    for (const a of attempts) expect(a.parentSpanId).toBe(s.spanId);
    const ok = attempts.filter((a) => a.attributes['http.response.status_code'] === 200);
    expect(ok).toHaveLength(1);
    expect(ok[0]?.attributes).toMatchObject({ 'server.address': '127.0.0.1', 'server.port': up.port });
    // The upstream's parent is the proxy's client span of the attempt that reached it.
    expect(seen.get(`/r${i}?x=1`)).toBe(`00-${traceId}-${ok[0]?.spanId}-01`);
    if (attempts.length === 2) {
      retried++;
      const failed = attempts.find((a) => a !== ok[0]) as OtlpSpan;
      expect(failed.attributes).toMatchObject({ 'error.type': 'ConnectRefused', 'server.port': Number(refused.split(':')[1]) });
      expect(failed.status.code).toBe(2); // STATUS_CODE_ERROR
      expect(ok[0]?.attributes['http.request.resend_count']).toBe(1);
    } else {
      expect(attempts).toHaveLength(1);
    }
  }
  expect(retried).toBeGreaterThanOrEqual(1);
});

test('sample_ratio 0: a new trace is neither recorded nor propagated; a sampled client trace is followed', async () => {
  const otlp = await collector();
  const { up, seen } = await recordingUpstream();
  const lb = await h.start(lbConf(h.dir, [up.addr], tracingConf(otlp.url, '  sample_ratio: 0')));
  const r1 = await fetch(`${lb.url}/unsampled`);
  await r1.text();
  const r2 = await fetch(`${lb.url}/sampled`, { headers: { traceparent: traceparent(1) } });
  await r2.text();
  await until(() => otlp.spans.length >= 2, 'the sampled trace');
  await sleep(200);
  expect(new Set(otlp.spans.map((s) => s.traceId))).toEqual(new Set([traceparent(1).split('-')[1]]));
  // A new trace not sampled is not propagated: the upstream decides for itself.
  expect(seen.get('/unsampled')).toBeUndefined();
  expect(seen.get('/sampled')).toMatch(new RegExp(`^00-${traceparent(1).split('-')[1]}-[0-9a-f]{16}-01$`));
});

interface DropLine {
  level: number;
  reason: string;
  dropped: number;
  total_dropped: number;
  total_queue_full: number;
  err?: string;
}

test('with threads: 2, every worker exports its own spans', async () => {
  const otlp = await collector();
  const { up, seen } = await recordingUpstream();
  const lb = await h.start(lbConf(h.dir, [up.addr], `threads: 2\n${tracingConf(otlp.url)}`));
  const n = 8;
  // Separate connections, so both workers get some.
  await Promise.all(Array.from({ length: n }, (_, i) => fetch(`${lb.url}/w${i}`, { headers: { traceparent: traceparent(i), connection: 'close' } }).then((r) => r.text())));
  await until(() => otlp.spans.filter((s) => s.kind === KIND_SERVER).length === n, 'every server span');
  for (let i = 0; i < n; i++) expect(seen.get(`/w${i}`)).toMatch(new RegExp(`^00-${traceparent(i).split('-')[1]}-[0-9a-f]{16}-01$`));
  expect(otlp.resources.every((r) => r['service.name'] === 'lb-under-test')).toBe(true);
});

/** The error log's lines (on stderr) about dropped spans. */
function dropLines(lb: RunningLb): DropLine[] {
  return lb
    .stderr()
    .split('\n')
    .filter((l) => l.includes('tracing: spans dropped'))
    .map((l) => JSON.parse(l) as DropLine);
}

/** The value of one sample (name with its labels, as printed) in a Prometheus text scrape. */
function sample(text: string, series: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  if (line === undefined) throw new Error(`no ${series} in the scrape:\n${text}`);
  return Number(line.slice(series.length + 1));
}

/** Sends `n` requests one after another; every one must succeed. */
async function requestsSucceed(url: string, n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    const r = await fetch(`${url}/${i}`, { headers: { traceparent: traceparent(i) } });
    expect(r.status).toBe(200);
    expect(await r.text()).toBe('ok');
  }
}

describe('a collector in trouble changes nothing for the requests; drops are counted and reported once a minute', () => {
  test('down (connection refused)', async () => {
    const { up } = await recordingUpstream();
    const conf = tracingConf(`http://127.0.0.1:${await refusedPort()}`, '  export_timeout_ms: 1000');
    const lb = await h.start(lbConf(h.dir, [up.addr], `${conf}\nadmin: { addr: "127.0.0.1:0" }`));
    await requestsSucceed(lb.url, 10);
    await until(() => dropLines(lb).length > 0, 'the drop warning');
    // The same drops on /metrics: a counter an alert can watch, not only a log line.
    const metrics = (await get(`${await adminUrl(lb)}/metrics`)).text;
    expect(sample(metrics, 'pingora_ts_tracing_spans_dropped_total{reason="export_failed"}')).toBeGreaterThan(0);
    expect(sample(metrics, 'pingora_ts_tracing_spans_exported_total')).toBe(0);
    await requestsSucceed(lb.url, 10);
    await sleep(300); // more failed exports, which must not log again within the minute
    const lines = dropLines(lb);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: 40, reason: 'export_failed' });
    expect(lines[0]?.dropped).toBeGreaterThan(0);
    expect(lines[0]?.err).toMatch(/ECONNREFUSED|timed out/i);
  });

  test('answering 500, or bytes that are not HTTP', async () => {
    const failing = await listenHttp((req, res) => {
      req.resume();
      res.statusCode = 500;
      res.end('{"oops":');
    });
    const garbage = await listenNet((s) => s.end('\x00\x01 not http at all\r\n\r\n'));
    const { up } = await recordingUpstream();
    for (const server of [failing, garbage]) {
      const lb = await h.start(lbConf(h.dir, [up.addr], tracingConf(`http://127.0.0.1:${(server.address() as AddressInfo).port}`)));
      await requestsSucceed(lb.url, 10);
      await until(() => dropLines(lb).length > 0, 'the drop warning');
      expect(dropLines(lb)[0]).toMatchObject({ reason: 'export_failed' });
      lb.child.kill('SIGKILL');
      await lb.exited;
    }
  });

  test('slow (never answers): exports time out, the bounded queue drops what does not fit', async () => {
    let held = 0;
    const slow = await listenHttp((req) => {
      held++;
      req.resume(); // and never answer
    });
    const { up } = await recordingUpstream();
    const extra = ['  max_queue_size: 4', '  max_export_batch_size: 2', '  export_timeout_ms: 500'].join('\n');
    const endpoint = `http://127.0.0.1:${(slow.address() as AddressInfo).port}`;
    const lb = await h.start(lbConf(h.dir, [up.addr], `${tracingConf(endpoint, extra)}\nadmin: { addr: "127.0.0.1:0" }`));
    await requestsSucceed(lb.url, 20);
    await until(() => dropLines(lb).length > 0, 'the drop warning');
    const metrics = (await get(`${await adminUrl(lb)}/metrics`)).text;
    expect(sample(metrics, 'pingora_ts_tracing_spans_dropped_total{reason="queue_full"}')).toBeGreaterThan(0);
    // The first export hangs with 2 spans, 4 more fill the queue: the third request's spans do not fit.
    const [line] = dropLines(lb);
    expect(line).toMatchObject({ reason: 'queue_full' });
    expect(line?.total_queue_full).toBeGreaterThan(0);
    // Exports go one at a time: few ever reached the collector.
    expect(held).toBeLessThanOrEqual(4);
  });
});
