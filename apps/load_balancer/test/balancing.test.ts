import { readFileSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { Harness, lbConf, sleep } from './harness';

let h: Harness;
let agent: Agent;
beforeEach(() => {
  h = new Harness();
  agent = new Agent({ connections: 4 });
});
afterEach(async () => {
  if (!agent.closed) await agent.close();
  await h.cleanup();
});

async function get(url: string): Promise<{ status: number; body: string }> {
  const res = await request(url, { dispatcher: agent });
  return { status: res.statusCode, body: await res.body.text() };
}

test('weighted round robin is exact over a multiple of the weight sum', async () => {
  const [a, b, c] = await Promise.all([h.upstream(), h.upstream(), h.upstream()]);
  const lb = await h.start(lbConf(h.dir, [a!.addr, `{ addr: ${b!.addr}, weight: 2 }`, `{ addr: ${c!.addr}, weight: 3 }`]));
  const counts = new Map<string, number>();
  for (let i = 0; i < 6 * 20; i++) {
    const r = await get(lb.url);
    expect(r.status).toBe(200);
    counts.set(r.body, (counts.get(r.body) ?? 0) + 1);
  }
  expect(counts.get(`upstream ${a!.port}`)).toBe(20);
  expect(counts.get(`upstream ${b!.port}`)).toBe(40);
  expect(counts.get(`upstream ${c!.port}`)).toBe(60);
});

test('a killed backend leaves rotation within two intervals and comes back', async () => {
  const a = await h.upstream();
  let b = await h.upstream();
  const port = b.port;
  const lb = await h.start(
    lbConf(h.dir, [a.addr, b.addr]).replace(
      '      backends:',
      '      health_check: { type: tcp, interval_ms: 200, consecutive_success: 1, consecutive_failure: 1 }\n      backends:',
    ),
  );
  await h.kill(b);
  await sleep(2 * 200 + 100);
  // Out of rotation: every request goes to a, none needs a retry.
  for (let i = 0; i < 10; i++) expect(await get(lb.url)).toEqual({ status: 200, body: `upstream ${a.port}` });

  b = await h.upstream(port);
  await sleep(2 * 200 + 100);
  const seen = new Set<string>();
  for (let i = 0; i < 10; i++) seen.add((await get(lb.url)).body);
  expect(seen).toEqual(new Set([`upstream ${a.port}`, `upstream ${b.port}`]));
  // The error log says when it left and when it came back.
  expect(lb.stderr()).toMatch(/unhealthy/);
});

test('a dead backend not yet seen by health checks is retried on the next one', async () => {
  const a = await h.upstream();
  const b = await h.upstream();
  const lb = await h.start(lbConf(h.dir, [a.addr, b.addr]));
  await h.kill(b);
  for (let i = 0; i < 6; i++) expect(await get(lb.url)).toEqual({ status: 200, body: `upstream ${a.port}` });
});

test('all backends down: 502 with a short body, the process keeps serving and recovers', async () => {
  let a = await h.upstream();
  const port = a.port;
  const lb = await h.start(
    lbConf(h.dir, [a.addr]).replace(
      '      backends:',
      '      health_check: { type: tcp, interval_ms: 200, consecutive_success: 1, consecutive_failure: 1 }\n      backends:',
    ),
  );
  expect((await get(lb.url)).status).toBe(200);
  await h.kill(a);
  for (let i = 0; i < 3; i++) {
    const r = await get(lb.url);
    expect(r.status).toBe(502);
    expect(r.body.length).toBeGreaterThan(0);
    expect(r.body.length).toBeLessThan(200);
  }
  await sleep(500);
  expect((await get(lb.url)).status).toBe(502);
  a = await h.upstream(port);
  await sleep(2 * 200 + 100);
  expect(await get(lb.url)).toEqual({ status: 200, body: `upstream ${a.port}` });
  expect(lb.child.exitCode).toBeNull();
});

test('access log: one line per request with upstream and connection reuse; ≤ 1 new upstream connection per client connection', async () => {
  const a = await h.upstream();
  const lb = await h.start(lbConf(h.dir, [a.addr]));
  const one = new Agent({ connections: 1 });
  for (let i = 0; i < 200; i++) {
    const res = await request(`${lb.url}/item/${i}?q=1`, { dispatcher: one });
    expect(res.statusCode).toBe(200);
    await res.body.text();
  }
  await one.close();
  lb.child.kill('SIGTERM');
  expect(await lb.exited).toEqual({ code: 0, signal: null });
  const lines = readFileSync(join(h.dir, 'access.log'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  expect(lines).toHaveLength(200);
  expect(lines[5]).toMatchObject({ method: 'GET', path: '/item/5?q=1', status: 200, upstream: a.addr, reused: true });
  expect(typeof lines[5]?.durationMs).toBe('number');
  expect(lines[5]?.bytes).toBe(`upstream ${a.port}`.length);
  expect(lines.filter((l) => l.reused === false).length).toBeLessThanOrEqual(1);
});

test('on shutdown the error log reports the pool counters', async () => {
  const a = await h.upstream();
  const lb = await h.start(lbConf(h.dir, [a.addr]));
  const one = new Agent({ connections: 1 });
  for (let i = 0; i < 20; i++) await (await request(lb.url, { dispatcher: one })).body.text();
  await one.close();
  lb.child.kill('SIGTERM');
  await lb.exited;
  const line = lb.stderr().split('\n').find((l) => l.includes('"msg":"pool stats"'));
  expect(JSON.parse(line ?? '{}')).toMatchObject({ newConnections: 1, reusedConnections: 19 });
});

/** A backend that answers `/slow` only when told to, and everything else at once. */
async function heldBackend() {
  const held: ServerResponse[] = [];
  const up = await h.upstream(0, (req, res) => {
    req.resume();
    if (req.url === '/slow') held.push(res);
    else res.end('fast');
  });
  const releaseAll = () => {
    for (const r of held.splice(0)) r.end('slow');
  };
  return { ...up, held, releaseAll };
}

/**
 * A load balancer with `max_connections: 1` in front of a `heldBackend`, whose one connection
 * is busy with a held `/slow` request (`slow`, answered by `b.releaseAll()`).
 */
async function atMaxConnections(connectionTimeoutMs: number) {
  const b = await heldBackend();
  const lb = await h.start(
    lbConf(h.dir, [b.addr]).replace('      backends:', `      max_connections: 1\n      connection_timeout_ms: ${connectionTimeoutMs}\n      backends:`),
  );
  const slow = get(`${lb.url}/slow`);
  while (b.held.length === 0) await sleep(10);
  return { b, lb, slow };
}

test('over max_connections: the request waits, then gets 503 (not 502) when no connection came free in time', async () => {
  const { b, lb, slow } = await atMaxConnections(300);
  const started = Date.now();
  const over = await get(`${lb.url}/over`);
  expect(over.status).toBe(503);
  expect(Date.now() - started).toBeGreaterThanOrEqual(300);
  b.releaseAll();
  expect(await slow).toEqual({ status: 200, body: 'slow' });
  // The connection is free again: the next request gets it.
  expect(await get(`${lb.url}/after`)).toEqual({ status: 200, body: 'fast' });
  await agent.close();
  lb.child.kill('SIGTERM'); // flushes the access log
  expect(await lb.exited).toEqual({ code: 0, signal: null });
  const lines = readFileSync(join(h.dir, 'access.log'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  expect(lines.find((l) => l.path === '/over')).toMatchObject({ status: 503, error: 'ConnectionLimitReached', retries: 0 });
});

test('over max_connections: the waiting request gets the connection once it comes free', async () => {
  const { b, lb, slow } = await atMaxConnections(5000);
  const waiting = get(`${lb.url}/waiting`);
  await sleep(100);
  expect(b.held).toHaveLength(1); // the second request is queued in the pool, not at the backend
  b.releaseAll();
  expect(await slow).toEqual({ status: 200, body: 'slow' });
  expect(await waiting).toEqual({ status: 200, body: 'fast' });
});
