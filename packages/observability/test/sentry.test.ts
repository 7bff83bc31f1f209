/**
 * SentryReporter against a real ingest on 127.0.0.1 (test-support/fake-sentry-ingest): what an
 * event carries, what it never carries, and an ingest that is down, slow or answers garbage.
 */
import { channel } from 'node:diagnostics_channel';
import { createServer } from 'node:net';
import { PROXY_INTERNAL_ERROR_CHANNEL, SentryReporter, scrubEvent, traceIdOf } from '@pingora-ts/observability/sentry';
import { fakeSentryIngest, type FakeIngest } from '../../../test-support/fake-sentry-ingest';

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const reporters: SentryReporter[] = [];
let ingest: FakeIngest;
beforeEach(async () => {
  ingest = await fakeSentryIngest();
});
afterEach(async () => {
  for (const r of reporters.splice(0)) await r.close(100);
  await ingest.close();
});

function reporter(opts: Partial<ConstructorParameters<typeof SentryReporter>[0]> = {}): SentryReporter {
  const r = new SentryReporter({ dsn: ingest.dsn, environment: 'test', ...opts });
  reporters.push(r);
  return r;
}

const secretHeaders = {
  host: 'example.test',
  'user-agent': 'curl/8',
  authorization: 'Bearer s3cret',
  'proxy-authorization': 'Basic c2VjcmV0',
  cookie: 'session=s3cret',
  'set-cookie': 'a=s3cret',
  traceparent: `00-${TRACE}-00f067aa0ba902b7-01`,
};

test('a request error: method, path without its query, service, phase and trace id; no credentials anywhere', async () => {
  const r = reporter({ tags: { role: 'worker' } });
  r.captureRequestError(new Error('hook blew up', { cause: new TypeError('inner') }), { service: 'web', method: 'POST', path: '/login?token=s3cret', headers: secretHeaders }, 'request');
  const [event] = await ingest.waitForEvents(1);
  expect(event?.tags).toMatchObject({ service: 'web', method: 'POST', path: '/login', phase: 'request', trace_id: TRACE, role: 'worker' });
  expect(event?.contexts?.trace).toMatchObject({ trace_id: TRACE, span_id: '00f067aa0ba902b7' });
  expect(event?.environment).toBe('test');
  expect(event?.request).toEqual({ method: 'POST', url: '/login', headers: { host: 'example.test', 'user-agent': 'curl/8', traceparent: secretHeaders.traceparent } });
  // The cause chain (linkedErrors) is there, the credentials are nowhere in what was sent.
  expect(event?.exception?.values?.map((v) => v.value)).toEqual(['inner', 'hook blew up']);
  expect(ingest.envelopes.join('\n')).not.toContain('s3cret');
  await r.flush(2000);
  expect(r.sent).toBe(1);
});

test('without a traceparent an event carries no trace id', async () => {
  reporter().captureRequestError(new Error('x'), { service: 'web', method: 'GET', path: '/' });
  const [event] = await ingest.waitForEvents(1);
  expect(event?.tags?.trace_id).toBeUndefined();
  expect(event?.contexts?.trace).toBeUndefined();
});

test('the proxy channel: a message published on pingora-ts:proxy:internal-error becomes an event; a broken message never throws', async () => {
  const r = reporter();
  const stop = r.subscribeProxy();
  const ch = channel(PROXY_INTERNAL_ERROR_CHANNEL);
  ch.publish({ service: 'api', phase: 'logging', error: new Error('logging hook threw'), session: { method: 'GET', path: '/x', headers: { cookie: 'c=s3cret' } } });
  ch.publish({ nonsense: true }); // counted as dropped, not thrown into the publisher
  const [event] = await ingest.waitForEvents(1);
  expect(event?.tags).toMatchObject({ service: 'api', phase: 'logging', path: '/x' });
  expect(event?.request?.headers).toEqual({});
  stop();
  expect(ch.hasSubscribers).toBe(false);
  expect(r.dropped).toBe(1);
});

test('a worker exit is an error-level message with the worker, its exit code and signal', async () => {
  reporter().captureWorkerExit({ worker: 2, pid: 1234, code: null, signal: 'SIGKILL' });
  const [event] = await ingest.waitForEvents(1);
  expect(event?.level).toBe('error');
  expect(event?.message).toBe('worker 2 exited unexpectedly (signal SIGKILL)');
  expect(event?.tags).toMatchObject({ worker: '2', worker_pid: '1234', signal: 'SIGKILL', exit_code: 'null' });
});

test('sample_rate 0 sends nothing', async () => {
  const r = reporter({ sampleRate: 0 });
  for (let i = 0; i < 5; i++) r.captureError(new Error('sampled out'));
  await r.flush(1000);
  expect(ingest.envelopes).toHaveLength(0);
});

describe('an ingest that fails: events are dropped and counted, nothing waits on it', () => {
  test('down (connection refused)', async () => {
    const port = await closedPort();
    const r = reporter({ dsn: `http://public@127.0.0.1:${port}/1` });
    for (let i = 0; i < 3; i++) r.captureError(new Error('nobody listens'));
    await r.flush(2000);
    expect(r.dropped).toBe(3);
    expect(r.sent).toBe(0);
  });

  test('slow (never answers): each send gives up after timeoutMs, and at most maxQueue are in flight', async () => {
    ingest.mode = 'slow';
    const r = reporter({ timeoutMs: 300, maxQueue: 2 });
    for (let i = 0; i < 10; i++) r.captureError(new Error(`slow ${i}`));
    await r.flush(3000);
    // Two were sent and timed out; eight never got a queue slot.
    expect(ingest.envelopes.length).toBeLessThanOrEqual(2);
    expect(r.dropped).toBe(10);
  });

  test('garbage (a 500 with junk)', async () => {
    ingest.mode = 'garbage';
    const r = reporter();
    r.captureError(new Error('junk answer'));
    await r.flush(2000);
    expect(r.dropped).toBe(1);
  });
});

test('scrubEvent and traceIdOf on their own', () => {
  const event = scrubEvent({
    type: undefined,
    request: { url: '/a?b=c', headers: { Authorization: 'x', Cookie: 'y', 'Set-Cookie': 'z', 'Proxy-Authorization': 'w', accept: '*/*' }, cookies: { a: 'b' }, data: 'body', query_string: 'b=c' },
    contexts: { trace: { trace_id: 'f'.repeat(32), span_id: 'a'.repeat(16) } },
  });
  expect(event.request).toEqual({ url: '/a', headers: { accept: '*/*' } });
  expect(event.contexts?.trace).toBeUndefined();
  expect(traceIdOf(`00-${TRACE}-00f067aa0ba902b7-01`)).toEqual({ traceId: TRACE, spanId: '00f067aa0ba902b7' });
  for (const bad of [undefined, '', 'garbage', `00-${'0'.repeat(32)}-00f067aa0ba902b7-01`, `ff-${TRACE}-00f067aa0ba902b7-01`, `00-${TRACE.toUpperCase()}-00f067aa0ba902b7-01`]) {
    expect(traceIdOf(bad)).toBeUndefined();
  }
});

/** A port nothing listens on (bound, read, closed). */
async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const port = (s.address() as { port: number }).port;
  await new Promise((resolve) => s.close(resolve));
  return port;
}
