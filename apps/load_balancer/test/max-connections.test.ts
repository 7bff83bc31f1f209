/**
 * `upstreams.max_connections`: a request over a backend's cap waits for a connection to come
 * free, and gets a 503 (not a 502) when none does within `connection_timeout_ms`.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ServerResponse } from 'node:http';
import { Agent, request } from 'undici';
import { Harness, lbConf } from './harness';

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

test('over max_connections: the request waits, then gets 503 when no connection came free in time', async () => {
  const b = await heldBackend();
  const lb = await h.start(
    lbConf(h.dir, [b.addr]).replace('      backends:', '      max_connections: 1\n      connection_timeout_ms: 300\n      backends:'),
  );
  const slow = get(`${lb.url}/slow`);
  while (b.held.length === 0) await new Promise((r) => setTimeout(r, 10));
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
  const b = await heldBackend();
  const lb = await h.start(
    lbConf(h.dir, [b.addr]).replace('      backends:', '      max_connections: 1\n      connection_timeout_ms: 5000\n      backends:'),
  );
  const slow = get(`${lb.url}/slow`);
  while (b.held.length === 0) await new Promise((r) => setTimeout(r, 10));
  const waiting = get(`${lb.url}/waiting`);
  await new Promise((r) => setTimeout(r, 100));
  expect(b.held).toHaveLength(1); // the second request is queued in the pool, not at the backend
  b.releaseAll();
  expect(await slow).toEqual({ status: 200, body: 'slow' });
  expect(await waiting).toEqual({ status: 200, body: 'fast' });
});
