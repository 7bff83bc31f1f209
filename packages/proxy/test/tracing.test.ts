/**
 * OpenTelemetry spans through a real proxy (docs/tracing.md): the SDK's in-memory exporter
 * collects what the proxy made; a real upstream records the `traceparent` it was sent.
 */
import { INVALID_SPAN_CONTEXT, propagation, SpanKind, SpanStatusCode, trace, type Tracer, type TracerProvider } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { AlwaysOffSampler, BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { HttpPeer, type ProxyHttp, type Session } from '@pingora-ts/proxy';
import { h2connect, h2request } from './h2-client';
import { DOWNSTREAMS, Resources, client, startProxy, until, useDownstream } from './resources';

const res = new Resources();
afterEach(() => res.closeAll());

const exporter = new InMemorySpanExporter();
const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });

beforeAll(() => propagation.setGlobalPropagator(new W3CTraceContextPropagator()));
afterAll(async () => {
  propagation.disable();
  trace.disable();
  await provider.shutdown();
});
beforeEach(() => exporter.reset());

const CLIENT_TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const CLIENT_SPAN = '00f067aa0ba902b7';
const TRACEPARENT = `00-${CLIENT_TRACE}-${CLIENT_SPAN}-01`;

/** An upstream that answers `status` and records the trace headers it got. */
async function recordingUpstream(status = 200): Promise<{ address: string; seen: Array<{ traceparent?: string; tracestate?: string }> }> {
  const seen: Array<{ traceparent?: string; tracestate?: string }> = [];
  const up = await res.httpServer((req, r) => {
    seen.push({ traceparent: req.headers.traceparent as string | undefined, tracestate: req.headers.tracestate as string | undefined });
    r.statusCode = status;
    r.end('ok');
  });
  return { address: up.address, seen };
}

function app(peers: () => HttpPeer, seenSpans?: Array<Session['span']>): ProxyHttp<null> {
  return {
    newCtx: () => null,
    upstreamPeer: () => peers(),
    logging: (session) => {
      seenSpans?.push(session.span);
    },
  };
}

/** The finished spans, once the request's server span has ended (it ends before `logging`). */
async function spans(count: number): Promise<ReadableSpan[]> {
  await until(() => exporter.getFinishedSpans().length >= count);
  return exporter.getFinishedSpans();
}

const server = (all: ReadableSpan[]): ReadableSpan => all.find((s) => s.kind === SpanKind.SERVER) as ReadableSpan;
const clients = (all: ReadableSpan[]): ReadableSpan[] => all.filter((s) => s.kind === SpanKind.CLIENT);

describe.each(DOWNSTREAMS)('%s downstream', (downstream) => {
  beforeEach(() => useDownstream(downstream));

  test("a client's traceparent parents the server span; the upstream gets the client span as parent", async () => {
    const up = await recordingUpstream();
    const peer = new HttpPeer(up.address);
    const sessionSpans: Array<Session['span']> = [];
    const { url, port } = await startProxy(res, app(() => peer, sessionSpans), { tracing: provider });
    const r = await client(res, url).request({
      path: '/items/7?q=1',
      method: 'GET',
      headers: { traceparent: TRACEPARENT, tracestate: 'vendor=abc', 'user-agent': 'tracing-test/1' },
    });
    expect(r.statusCode).toBe(200);
    await r.body.text();
    const all = await spans(2);
    expect(all).toHaveLength(2);
    const s = server(all);
    const [c] = clients(all);
    if (c === undefined) throw new Error('no client span');

    expect(s.spanContext().traceId).toBe(CLIENT_TRACE);
    expect(s.parentSpanContext?.spanId).toBe(CLIENT_SPAN);
    expect(s.name).toBe('GET');
    expect(s.attributes).toMatchObject({
      'http.request.method': 'GET',
      'url.path': '/items/7',
      'url.scheme': 'http',
      'server.address': '127.0.0.1',
      'server.port': port,
      'network.protocol.version': '1.1',
      'user_agent.original': 'tracing-test/1',
      'http.response.status_code': 200,
    });
    expect(s.status.code).toBe(SpanStatusCode.UNSET);

    expect(c.spanContext().traceId).toBe(CLIENT_TRACE);
    expect(c.parentSpanContext?.spanId).toBe(s.spanContext().spanId);
    expect(c.attributes).toMatchObject({
      'http.request.method': 'GET',
      'server.address': '127.0.0.1',
      'server.port': Number(up.address.split(':')[1]),
      'url.full': `http://${up.address}/items/7?q=1`,
      'http.response.status_code': 200,
    });
    expect(c.attributes['http.request.resend_count']).toBeUndefined();

    // The upstream's parent is the proxy's client span, not the client's span; tracestate is kept.
    expect(up.seen).toEqual([{ traceparent: `00-${CLIENT_TRACE}-${c.spanContext().spanId}-01`, tracestate: 'vendor=abc' }]);
    expect(sessionSpans[0]?.spanContext().spanId).toBe(s.spanContext().spanId);
  });

  test('a retry after a refused connect shows as two sibling client spans', async () => {
    const up = await recordingUpstream();
    const refused = new HttpPeer(`127.0.0.1:${await res.refusedPort()}`);
    const good = new HttpPeer(up.address);
    let calls = 0;
    const { url } = await startProxy(res, app(() => (calls++ === 0 ? refused : good)), { tracing: provider });
    const r = await client(res, url).request({ path: '/', method: 'GET', headers: { traceparent: TRACEPARENT } });
    expect(r.statusCode).toBe(200);
    await r.body.text();
    const all = await spans(3);
    const s = server(all);
    const [first, second] = clients(all);
    if (first === undefined || second === undefined) throw new Error('expected two client spans');
    for (const c of [first, second]) expect(c.parentSpanContext?.spanId).toBe(s.spanContext().spanId);
    expect(first.status.code).toBe(SpanStatusCode.ERROR);
    expect(first.attributes['error.type']).toBe('ConnectRefused');
    expect(first.attributes['http.response.status_code']).toBeUndefined();
    expect(second.status.code).toBe(SpanStatusCode.UNSET);
    expect(second.attributes).toMatchObject({ 'http.request.resend_count': 1, 'http.response.status_code': 200 });
    expect(up.seen[0]?.traceparent).toBe(`00-${CLIENT_TRACE}-${second.spanContext().spanId}-01`);
    expect(s.status.code).toBe(SpanStatusCode.UNSET);
  });

  test('a request without trace context starts a trace; a 5xx marks both spans as errors', async () => {
    const up = await recordingUpstream(503);
    const peer = new HttpPeer(up.address);
    const { url } = await startProxy(res, app(() => peer), { tracing: provider });
    const r = await client(res, url).request({ path: '/', method: 'POST', body: 'x' });
    expect(r.statusCode).toBe(503);
    await r.body.text();
    const all = await spans(2);
    const s = server(all);
    const [c] = clients(all);
    expect(s.parentSpanContext).toBeUndefined();
    expect(s.attributes).toMatchObject({ 'http.request.method': 'POST', 'http.response.status_code': 503, 'error.type': '503' });
    expect(s.status.code).toBe(SpanStatusCode.ERROR);
    expect(c?.status.code).toBe(SpanStatusCode.ERROR);
    expect(up.seen[0]?.traceparent).toBe(`00-${s.spanContext().traceId}-${c?.spanContext().spanId}-01`);
  });

  test('every upstream failing: the server span carries the error and the 502', async () => {
    const refused = new HttpPeer(`127.0.0.1:${await res.refusedPort()}`);
    const { url } = await startProxy(res, app(() => refused), { tracing: provider, maxRetries: 1 });
    const r = await client(res, url).request({ path: '/', method: 'GET' });
    expect(r.statusCode).toBe(502);
    await r.body.text();
    const all = await spans(3);
    const s = server(all);
    expect(clients(all)).toHaveLength(2);
    expect(s.attributes).toMatchObject({ 'http.response.status_code': 502, 'error.type': 'ConnectRefused' });
    expect(s.status.code).toBe(SpanStatusCode.ERROR);
  });
});

test('an HTTP/2 (h2c) request: protocol version 2, server address from :authority', async () => {
  const up = await recordingUpstream();
  const peer = new HttpPeer(up.address);
  const { url, port } = await startProxy(res, app(() => peer), { tracing: provider });
  const r = await h2request(h2connect(res, url), { ':method': 'GET', ':path': '/h2?a=b', ':authority': `localhost:${port}`, traceparent: TRACEPARENT });
  expect(r.status).toBe(200);
  const all = await spans(2);
  const s = server(all);
  expect(s.parentSpanContext?.spanId).toBe(CLIENT_SPAN);
  expect(s.attributes).toMatchObject({ 'network.protocol.version': '2', 'server.address': 'localhost', 'server.port': port, 'url.path': '/h2' });
  expect(up.seen[0]?.traceparent).toBe(`00-${CLIENT_TRACE}-${clients(all)[0]?.spanContext().spanId}-01`);
});

test('a request the sampler drops records nothing, and its trace goes upstream unsampled', async () => {
  const offExporter = new InMemorySpanExporter();
  const off = new BasicTracerProvider({ sampler: new AlwaysOffSampler(), spanProcessors: [new SimpleSpanProcessor(offExporter)] });
  const up = await recordingUpstream();
  const peer = new HttpPeer(up.address);
  const sessionSpans: Array<Session['span']> = [];
  const { url } = await startProxy(res, app(() => peer, sessionSpans), { tracing: off });
  const r = await client(res, url).request({ path: '/', method: 'GET', headers: { traceparent: TRACEPARENT, tracestate: 'vendor=abc' } });
  await r.body.text();
  await until(() => sessionSpans.length === 1);
  const span = sessionSpans[0];
  expect(span?.isRecording()).toBe(false);
  expect(up.seen).toEqual([{ traceparent: `00-${CLIENT_TRACE}-${span?.spanContext().spanId}-00`, tracestate: 'vendor=abc' }]);
  expect(offExporter.getFinishedSpans()).toHaveLength(0);
  await off.shutdown();
});

test('a tracer that drops a request before any id (an invalid span) sends nothing upstream', async () => {
  const dropped = trace.wrapSpanContext(INVALID_SPAN_CONTEXT);
  const gate: TracerProvider = { getTracer: () => ({ startSpan: () => dropped }) as unknown as Tracer };
  const up = await recordingUpstream();
  const peer = new HttpPeer(up.address);
  const { url } = await startProxy(res, app(() => peer), { tracing: gate });
  await (await client(res, url).request({ path: '/a', method: 'GET' })).body.text();
  // A client's fields that yielded nothing are not passed on either.
  await (await client(res, url).request({ path: '/b', method: 'GET', headers: { traceparent: 'garbage' } })).body.text();
  expect(up.seen).toEqual([
    { traceparent: undefined, tracestate: undefined },
    { traceparent: undefined, tracestate: undefined },
  ]);
});

describe('without a tracer', () => {
  test('tracing: false makes no span and forwards the client trace headers untouched', async () => {
    const up = await recordingUpstream();
    const peer = new HttpPeer(up.address);
    const sessionSpans: Array<Session['span']> = [];
    const { url } = await startProxy(res, app(() => peer, sessionSpans), { tracing: false });
    const r = await client(res, url).request({ path: '/', method: 'GET', headers: { traceparent: TRACEPARENT } });
    await r.body.text();
    await until(() => sessionSpans.length === 1);
    expect(sessionSpans).toEqual([null]);
    expect(up.seen).toEqual([{ traceparent: TRACEPARENT, tracestate: undefined }]);
    expect(exporter.getFinishedSpans()).toHaveLength(0);
  });

  test('the default follows the global provider as registered when listen() runs', async () => {
    const up = await recordingUpstream();
    const peer = new HttpPeer(up.address);
    // No global provider: no spans.
    const off = await startProxy(res, app(() => peer));
    await (await client(res, off.url).request({ path: '/', method: 'GET' })).body.text();
    // A global provider registered: the next proxy to listen traces.
    trace.setGlobalTracerProvider(provider);
    const on = await startProxy(res, app(() => peer));
    await (await client(res, on.url).request({ path: '/', method: 'GET', headers: { traceparent: TRACEPARENT } })).body.text();
    const all = await spans(2);
    expect(all).toHaveLength(2);
    expect(server(all).parentSpanContext?.spanId).toBe(CLIENT_SPAN);
    expect(up.seen[0]?.traceparent).toBeUndefined();
    expect(up.seen[1]?.traceparent).toBe(`00-${CLIENT_TRACE}-${clients(all)[0]?.spanContext().spanId}-01`);
  });

  test('a tracing option that is not a provider is refused', async () => {
    await expect( startProxy(res, app(() => new HttpPeer('127.0.0.1:1')), { tracing: 'yes' as never })).rejects.toThrow(/"tracing" must be a boolean or an OpenTelemetry TracerProvider/);
  });
});
