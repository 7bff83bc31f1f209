/**
 * The admin endpoint for real: the load balancer with `admin:` on 127.0.0.1:0, real
 * upstreams, undici as the client.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { adminUrl, get, post, TOKEN } from './admin-client';
import { Harness, lbConf, sleep, type Upstream } from './harness';

/** The parts of `GET /status` the tests read. */
interface StatusJson {
  role: string;
  workers: number[];
  services: Array<{ name: string; backends: Array<{ addr: string; weight: number; healthy: boolean; enabled: boolean; inflight: number }> }>;
}

let h: Harness;
beforeEach(() => {
  h = new Harness();
});
afterEach(() => h.cleanup());

test('/healthz and /readyz; /readyz says 503 with the reason once a service has no backend left', async () => {
  const a = await h.upstream();
  const conf = lbConf(h.dir, [a.addr], 'admin: { addr: "127.0.0.1:0" }').replace(
    '      backends:',
    '      health_check: { type: tcp, interval_ms: 100, consecutive_success: 1, consecutive_failure: 1 }\n      backends:',
  );
  const lb = await h.start(conf);
  const admin = await adminUrl(lb);
  expect(await get(`${admin}/healthz`)).toEqual({ status: 200, text: 'ok\n' });
  expect(await get(`${admin}/readyz`)).toEqual({ status: 200, text: 'ready\n' });
  expect((await get(`${admin}/nope`)).status).toBe(404);

  await h.kill(a);
  let ready = await get(`${admin}/readyz`);
  for (let i = 0; i < 100 && ready.status === 200; i++) {
    await sleep(50);
    ready = await get(`${admin}/readyz`);
  }
  expect(ready.status).toBe(503);
  expect(ready.text).toContain('service web: none of its 1 backends takes traffic');
  expect((await get(`${admin}/healthz`)).status).toBe(200);
  const metrics = await get(`${admin}/metrics`);
  expect(metrics.text).toContain(`pingora_ts_backend_healthy{service="web",backend="${a.addr}"} 0`);
});

test('with a token, a request without it or with a wrong one gets 401 and nothing else', async () => {
  const a = await h.upstream();
  const lb = await h.start(lbConf(h.dir, [a.addr], `admin: { addr: "127.0.0.1:0", token: ${TOKEN} }`));
  const admin = await adminUrl(lb);
  for (const token of [undefined, 'wrong-token-of-twenty-c', `${TOKEN}x`]) {
    for (const path of ['/metrics', '/healthz', '/readyz']) {
      const r = await get(`${admin}${path}`, token);
      expect(r).toEqual({ status: 401, text: 'unauthorized\n' });
    }
  }
  const ok = await get(`${admin}/metrics`, TOKEN);
  expect(ok.status).toBe(200);
  expect(ok.text).toContain('# TYPE pingora_ts_requests_total counter');
});

test('admin config is checked like the rest: a non-loopback addr needs a token, unknown keys are named', async () => {
  const cases: Array<[string, RegExp]> = [
    ['admin: { addr: "0.0.0.0:6190" }', /admin\.token: missing required key: admin\.addr 0\.0\.0\.0:6190 is not a loopback address/],
    ['admin: { addr: "127.0.0.1:6190", tokn: x }', /admin\.tokn: unknown key \(did you mean "token"\?\)/],
    ['admin: { addr: "localhost" }', /admin\.addr: expected "host:port"/],
    ['admin: { token: short }', /admin\.token: expected at least 16 characters/],
  ];
  for (const [extra, expected] of cases) {
    const conf = h.file('bad.yaml', lbConf(h.dir, ['127.0.0.1:1'], extra));
    const r = await h.run(['-t', '-c', conf]);
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain('bad.yaml');
    expect(r.stderr).toMatch(expected);
  }
  const good = h.file('good.yaml', lbConf(h.dir, ['127.0.0.1:1'], `admin: { addr: "0.0.0.0:6190", token: ${TOKEN} }`));
  expect((await h.run(['-t', '-c', good])).code).toBe(0);
});

test('threads: 2: /status shows workers, backends and in-flight requests; POST /backends/{service}/{addr}/disable drains a backend in every worker, enable brings it back; it needs the token', async () => {
  // `/hold` is answered only when the test says so (a request in flight for /status).
  const held: Array<() => void> = [];
  const handler = (port: () => number) => (req: IncomingMessage, res: ServerResponse) => {
    req.resume();
    if (req.url === '/hold') held.push(() => res.end('held'));
    else res.end(`upstream ${port()}`);
  };
  const a: Upstream = await h.upstream(0, handler(() => a.port));
  const b: Upstream = await h.upstream(0, handler(() => b.port));
  const lb = await h.start(lbConf(h.dir, [a.addr, b.addr], `threads: 2\nadmin: { addr: "127.0.0.1:0", token: ${TOKEN} }`));
  const admin = await adminUrl(lb);
  const hold = get(`${lb.url}/hold`);
  for (let i = 0; i < 200 && held.length === 0; i++) await sleep(10);
  const status = JSON.parse((await get(`${admin}/status`, TOKEN)).text) as StatusJson;
  expect(status.role).toBe('primary');
  expect(status.workers).toHaveLength(2);
  expect(status.services.map((s) => s.name)).toEqual(['web']);
  expect(status.services[0]!.backends.map((x) => [x.addr, x.weight, x.healthy, x.enabled])).toEqual([
    [a.addr, 1, true, true],
    [b.addr, 1, true, true],
  ]);
  expect(status.services[0]!.backends.reduce((n, x) => n + x.inflight, 0)).toBe(1);
  held[0]!();
  await hold;
  const seen = async (n: number): Promise<Set<string>> => {
    const out = new Set<string>();
    for (let i = 0; i < n; i++) out.add((await get(lb.url)).text);
    return out;
  };
  expect(await seen(20)).toEqual(new Set([`upstream ${a.port}`, `upstream ${b.port}`]));

  // Without the token, or with a wrong one: 401, and both backends still serve.
  expect((await post(`${admin}/backends/web/${a.addr}/disable`)).status).toBe(401);
  expect((await post(`${admin}/backends/web/${a.addr}/disable`, 'wrong-token-of-twenty-c')).status).toBe(401);
  expect(await seen(20)).toEqual(new Set([`upstream ${a.port}`, `upstream ${b.port}`]));

  expect(await post(`${admin}/backends/web/${a.addr}/disable`, TOKEN)).toEqual({ status: 200, text: `disabled web ${a.addr}\n` });
  // The workers apply it as the state channel's message reaches them.
  let after = await seen(10);
  for (let i = 0; i < 50 && after.has(`upstream ${a.port}`); i++) after = await seen(10);
  expect(await seen(30)).toEqual(new Set([`upstream ${b.port}`]));
  const metrics = await get(`${admin}/metrics`, TOKEN);
  expect(metrics.text).toContain(`pingora_ts_backend_healthy{service="web",backend="${a.addr}"} 0`);
  const disabled = JSON.parse((await get(`${admin}/status`, TOKEN)).text) as StatusJson;
  expect(disabled.services[0]!.backends.map((x) => x.enabled)).toEqual([false, true]);

  expect((await post(`${admin}/backends/web/${a.addr}/enable`, TOKEN)).status).toBe(200);
  let back = await seen(10);
  for (let i = 0; i < 50 && !back.has(`upstream ${a.port}`); i++) back = await seen(10);
  expect(back.has(`upstream ${a.port}`)).toBe(true);

  expect((await post(`${admin}/backends/nope/${a.addr}/disable`, TOKEN)).status).toBe(404);
  expect((await post(`${admin}/backends/web/127.0.0.1:1/disable`, TOKEN)).status).toBe(404);
  expect((await get(`${admin}/backends/web/${a.addr}/disable`, TOKEN)).status).toBe(405);
});

test('without a token, backend control is refused (403): it only works behind one', async () => {
  const a = await h.upstream();
  const lb = await h.start(lbConf(h.dir, [a.addr], 'admin: { addr: "127.0.0.1:0" }'));
  const admin = await adminUrl(lb);
  const r = await post(`${admin}/backends/web/${a.addr}/disable`);
  expect(r).toEqual({ status: 403, text: 'backend control needs admin.token in the config\n' });
  expect((await get(lb.url)).status).toBe(200);
});
