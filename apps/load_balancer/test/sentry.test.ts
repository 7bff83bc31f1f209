/**
 * Errors to Sentry, against a real ingest on 127.0.0.1: a real HttpProxy whose hook throws
 * (the proxy's internal-error channel into SentryReporter), and the load balancer's `sentry:`
 * config reporting a worker killed under it. Requests are unaffected when the ingest is down.
 */
import { HttpPeer, HttpProxy, type ProxyHttp } from '@pingora-ts/proxy';
import { SentryReporter } from '@pingora-ts/observability/sentry';
import { request } from 'undici';
import { fakeSentryIngest, type FakeIngest } from '../../../test-support/fake-sentry-ingest';
import { adminUrl, get } from './admin-client';
import { Harness, lbConf, sleep, type RunningLb } from './harness';

let h: Harness;
let ingest: FakeIngest;
const closers: Array<() => Promise<unknown>> = [];
beforeEach(async () => {
  h = new Harness();
  ingest = await fakeSentryIngest();
});
afterEach(async () => {
  for (const c of closers.splice(0)) await c();
  await h.cleanup();
  await ingest.close();
});

const TRACE = '0af7651916cd43dd8448eb211c80319c';

async function throwingProxy(): Promise<string> {
  const up = await h.upstream();
  const peer = new HttpPeer(up.addr);
  const app: ProxyHttp<null> = {
    newCtx: () => null,
    upstreamPeer: () => peer,
    upstreamRequestFilter: (session) => {
      if (session.path.startsWith('/boom')) throw new Error('upstreamRequestFilter blew up');
    },
  };
  const proxy = new HttpProxy('web', app, { listeners: [{ addr: '127.0.0.1:0' }] });
  await proxy.listen();
  closers.push(() => proxy.shutdown({ graceful: false, timeoutMs: 0 }));
  const a = proxy.addresses()[0];
  if (a?.kind !== 'tcp') throw new Error('no tcp address');
  return `http://127.0.0.1:${a.port}`;
}

test('a real HttpProxy whose hook throws: the client gets a 500, Sentry gets the event with method, path, service and trace id, credentials scrubbed', async () => {
  const url = await throwingProxy();
  const reporter = new SentryReporter({ dsn: ingest.dsn });
  const unsubscribe = reporter.subscribeProxy();
  closers.push(async () => {
    unsubscribe();
    await reporter.close(100);
  });
  const res = await request(`${url}/boom/1?api_key=s3cret`, {
    headers: { authorization: 'Bearer s3cret', cookie: 'sid=s3cret', 'proxy-authorization': 'Basic s3cret', traceparent: `00-${TRACE}-b7ad6b7169203331-01` },
  });
  expect(res.statusCode).toBe(500);
  await res.body.text();
  const ok = await request(`${url}/fine`);
  expect(ok.statusCode).toBe(200);
  await ok.body.text();

  const [event] = await ingest.waitForEvents(1);
  expect(event?.exception?.values?.at(-1)?.value).toBe('upstreamRequestFilter blew up');
  expect(event?.tags).toMatchObject({ service: 'web', method: 'GET', path: '/boom/1', phase: 'request', trace_id: TRACE });
  expect(event?.request?.url).toBe('/boom/1');
  const headers = Object.keys(event?.request?.headers ?? {});
  expect(headers).toEqual(expect.arrayContaining(['host', 'traceparent']));
  for (const scrubbed of ['authorization', 'cookie', 'proxy-authorization', 'set-cookie']) expect(headers).not.toContain(scrubbed);
  expect(ingest.envelopes.join('\n')).not.toContain('s3cret');
  await sleep(100);
  expect(ingest.events).toHaveLength(1); // the request that went well reported nothing
});

test('an ingest that never answers or is gone: the hook\'s requests still get their 500 at once, events are dropped and counted', async () => {
  const url = await throwingProxy();
  ingest.mode = 'slow';
  const reporter = new SentryReporter({ dsn: ingest.dsn, maxQueue: 2, timeoutMs: 500 });
  const unsubscribe = reporter.subscribeProxy();
  closers.push(async () => {
    unsubscribe();
    await reporter.close(100);
  });
  for (let i = 0; i < 10; i++) {
    const res = await request(`${url}/boom/${i}`);
    expect(res.statusCode).toBe(500);
    await res.body.text();
  }
  await reporter.flush(3000);
  expect(reporter.dropped).toBe(10);
  expect(ingest.envelopes.length).toBeLessThanOrEqual(2);
});

test('load balancer with sentry: a worker killed under threads: 2 is reported by the primary; the replacement serves', async () => {
  const up = await h.upstream();
  const conf = lbConf(h.dir, [up.addr], ['threads: 2', 'admin: { addr: "127.0.0.1:0" }', 'sentry:', `  dsn: ${ingest.dsn}`, '  environment: ci', '  sample_rate: 1'].join('\n'));
  const lb = await h.start(conf);
  const workers = await workersOf(lb);
  expect(workers).toHaveLength(2);
  process.kill(workers[0] as number, 'SIGKILL');

  const [event] = await ingest.waitForEvents(1, 15_000);
  expect(event?.message).toMatch(/^worker [12] exited unexpectedly \(signal SIGKILL\)$/);
  expect(event?.tags).toMatchObject({ role: 'primary', signal: 'SIGKILL', worker_pid: String(workers[0]) });
  expect(event?.environment).toBe('ci');
  expect(event?.release).toMatch(/^load_balancer@/);
  await until(async () => /^pingora_ts_sentry_events_sent_total 1$/m.test((await get(`${await adminUrl(lb)}/metrics`)).text), 'the sent event on /metrics');
  for (let i = 0; i < 50 && !lb.stderr().includes('worker replaced'); i++) await sleep(50);
  for (let i = 0; i < 4; i++) {
    const res = await request(lb.url, { reset: true });
    expect(res.statusCode).toBe(200);
    await res.body.text();
  }
  lb.child.kill('SIGTERM');
  expect((await lb.exited).code).toBe(0);
});

test('load balancer with sentry and an ingest answering garbage: the event is dropped, counted on /metrics, and the replacement serves', async () => {
  ingest.mode = 'garbage';
  const up = await h.upstream();
  const lb = await h.start(lbConf(h.dir, [up.addr], ['threads: 2', 'admin: { addr: "127.0.0.1:0" }', 'sentry:', `  dsn: ${ingest.dsn}`].join('\n')));
  const admin = await adminUrl(lb);
  const workers = await workersOf(lb);
  process.kill(workers[0] as number, 'SIGKILL');
  await until(async () => /^pingora_ts_sentry_events_dropped_total 1$/m.test((await get(`${admin}/metrics`)).text), 'the dropped event on /metrics');
  expect((await get(`${admin}/metrics`)).text).toMatch(/^pingora_ts_sentry_events_sent_total 0$/m);
  const res = await request(lb.url, { reset: true });
  expect(res.statusCode).toBe(200);
  await res.body.text();
});

/** The workers' pids, once the primary logs them (after the first "listening" line the harness waits for). */
async function workersOf(lb: RunningLb): Promise<number[]> {
  let line: string | undefined;
  await until(async () => (line = lb.stderr().split('\n').find((l) => l.includes('"msg":"workers listening"'))) !== undefined, 'the workers');
  return (JSON.parse(line as string) as { workers: number[] }).workers;
}

async function until(cond: () => Promise<boolean>, what: string, timeoutMs = 15_000): Promise<void> {
  for (let waited = 0; !(await cond()); waited += 100) {
    if (waited > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

test('-t rejects a malformed sentry.dsn and an out-of-range sample_rate, naming the key', async () => {
  const up = await h.upstream();
  for (const [sentry, key] of [
    ['  dsn: not-a-dsn', 'sentry.dsn'],
    [`  dsn: ${'http://public@127.0.0.1:9/1'}\n  sample_rate: 2`, 'sentry.sample_rate'],
  ] as const) {
    const file = h.file('bad.yaml', lbConf(h.dir, [up.addr], `sentry:\n${sentry}`));
    const r = await h.run(['-t', '-c', file]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`: ${key}: `);
  }
});
