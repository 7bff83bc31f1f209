/**
 * `health_check` and `passive_health`: what -t says about mistakes, what the keys build, that
 * ejections decided in one process reach the others (the workers' state channel, here one
 * StateChannel shared by a "primary" and two "worker" load balancers in this process), and an
 * HTTP health check run by the binary.
 */
import type { Logger } from '@pingora-ts/core';
import { StateChannel, parseConf } from '@pingora-ts/core';
import { GrpcHealthCheck, HttpHealthCheck, TcpHealthCheck, TlsHealthCheck, type LoadBalancer } from '@pingora-ts/load-balancing';
import { request } from 'undici';
import { buildLoadBalancer } from '../src/build-load-balancer';
import { lbConfSchema, type UpstreamsConf } from '../src/lb-conf';
import { shareEjections } from '../src/share-ejections';
import { Harness, lbConf, sleep } from './harness';

let h: Harness;
beforeEach(() => {
  h = new Harness();
});
afterEach(() => h.cleanup());

/** `upstreams` of a one-service config with these extra lines, parsed (defaults filled) as the binary does. */
function upstreams(extra: string, backends = ['127.0.0.1:1', '127.0.0.1:2']): UpstreamsConf {
  const yaml = lbConf('/tmp', backends).replace('      backends:', `${extra}\n      backends:`);
  return parseConf(yaml, 'test.yaml', lbConfSchema).services[0]!.upstreams;
}

const withConf = (extra: string) => lbConf('/tmp', ['127.0.0.1:1', '127.0.0.1:2']).replace('      backends:', `${extra}\n      backends:`);

test.each([
  ['an unknown type', '      health_check: { type: udp }', /services\[0\]\.upstreams\.health_check\.type: expected one of "tcp", "tls", "http", "grpc", got "udp"/],
  ['a key of another type', '      health_check: { type: tcp, path: /health }', /services\[0\]\.upstreams\.health_check\.path: only for type "http", not "tcp"/],
  ['a misspelt key', '      health_check: { type: http, expect_statuz: 200-299 }', /health_check\.expect_statuz: unknown key \(did you mean "expect_status"\?\)/],
  ['a bad status range', '      health_check: { type: http, expect_status: 399-200 }', /health_check\.expect_status: expected a range like "200-399"/],
  ['a jitter over 100', '      health_check: { jitter_percent: 150 }', /health_check\.jitter_percent: expected a number >= 0 and <= 100, got 150/],
  ['a max ejection below the base', '      passive_health: { base_ejection_ms: 5000, max_ejection_ms: 1000 }', /passive_health\.max_ejection_ms: expected at least base_ejection_ms \(5000\), got 1000/],
  ['a misspelt passive key', '      passive_health: { consecutive_500: 3 }', /passive_health\.consecutive_500: unknown key \(did you mean "consecutive_5xx"\?\)/],
])('-t on %s exits 1 naming the key and what is valid', async (_what, extra, expected) => {
  const r = await h.run(['-t', '-c', h.file('bad.yaml', withConf(extra))]);
  expect(r.code).toBe(1);
  expect(r.stderr.trim().split('\n')).toHaveLength(1);
  expect(r.stderr).toMatch(expected);
});

test('-t accepts every health key, and the old tcp keys without a type', async () => {
  const extra = [
    '      health_check: { type: http, interval_ms: 500, timeout_ms: 300, consecutive_success: 2, consecutive_failure: 3, jitter_percent: 5, concurrency: 4,',
    '                      method: HEAD, path: /healthz, host: api.internal, expect_status: [200, 204], expect_body: ready }',
    '      passive_health: { consecutive_5xx: 3, consecutive_connect_errors: 2, base_ejection_ms: 1000, max_ejection_ms: 8000, max_ejection_percent: 34 }',
  ].join('\n');
  for (const text of [withConf(extra), withConf('      health_check: { interval_ms: 200, consecutive_failure: 2 }')]) {
    const r = await h.run(['-t', '-c', h.file('good.yaml', text)]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
  }
});

describe('buildLoadBalancer', () => {
  it('builds the check of each type with its keys', () => {
    const tcp = buildLoadBalancer(upstreams('      health_check: { interval_ms: 200 }'));
    expect(tcp.healthCheck()).toBeInstanceOf(TcpHealthCheck);
    expect([tcp.healthCheckFrequencyMs, tcp.healthCheckJitterPercent, tcp.healthCheckConcurrency]).toEqual([200, 10, 16]);

    const http = buildLoadBalancer(upstreams('      health_check: { type: http, path: /hz, method: head, expect_status: 200-204, jitter_percent: 0, concurrency: 2 }'));
    const hc = http.healthCheck() as HttpHealthCheck;
    expect(hc).toBeInstanceOf(HttpHealthCheck);
    expect([hc.method, hc.path, hc.tls, http.healthCheckJitterPercent, http.healthCheckConcurrency]).toEqual(['HEAD', '/hz', false, 0, 2]);

    // http and grpc follow the upstreams' TLS.
    const grpc = buildLoadBalancer(upstreams('      tls: { sni: api.internal }\n      health_check: { type: grpc, grpc_service: shop.Cart, consecutive_failure: 3 }'));
    const g = grpc.healthCheck() as GrpcHealthCheck;
    expect([g.service, g.tls, g.healthThreshold(false)]).toEqual(['shop.Cart', true, 3]);

    const tls = buildLoadBalancer(upstreams('      health_check: { type: tls, sni: b.internal, verify: false, timeout_ms: 250 }'));
    const t = tls.healthCheck() as TlsHealthCheck;
    expect([t.sni, t.verify, t.timeoutMs]).toEqual(['b.internal', false, 250]);

    const passive = buildLoadBalancer(upstreams('      passive_health: { consecutive_5xx: 2, max_ejection_percent: 34 }'));
    expect([passive.outlierDetector?.consecutive5xx, passive.outlierDetector?.consecutiveConnectErrors, passive.outlierDetector?.maxEjectionPercent]).toEqual([2, 5, 34]);
    expect(passive.healthCheck()).toBeNull();
  });
});

describe('ejections are shared between processes', () => {
  function recordingLogger(): Logger & { lines: string[] } {
    const lines: string[] = [];
    const at = (_o: object, msg?: string) => void lines.push(msg ?? '');
    return { lines, error: at, warn: at, info: at, debug: at };
  }

  it('a worker\'s ejection reaches the primary and the other workers (late ones too); the primary\'s active check lets it back everywhere', async () => {
    const a = await h.upstream();
    const b = await h.upstream();
    const up = upstreams(
      '      health_check: { type: http, path: /, interval_ms: 60000 }\n      passive_health: { consecutive_5xx: 3, base_ejection_ms: 60000 }',
      [a.addr, b.addr],
    );
    const channel = new StateChannel();
    const logger = recordingLogger();
    const primary = buildLoadBalancer(up, { logger });
    const worker1 = buildLoadBalancer(up);
    const worker2 = buildLoadBalancer(up);
    for (const lb of [primary, worker1, worker2]) shareEjections(lb, 'ejection:web', channel);
    const ejected = (lb: LoadBalancer) => lb.backends().isEjected(a.addr);

    const backend = worker1.backends().get(a.addr)!;
    for (let i = 0; i < 3; i++) {
      worker1.requestStarted(backend);
      worker1.requestEnded(backend, 'http_5xx', 3);
    }
    expect([primary, worker1, worker2].map(ejected)).toEqual([true, true, true]);
    const until = worker1.backends().ejectedUntil(a.addr);
    expect(primary.backends().ejectedUntil(a.addr)).toBe(until);
    expect(logger.lines).toEqual([expect.stringMatching(new RegExp(`^backend ${a.addr} ejected for \\d+ ms: consecutive 5xx responses$`))]);

    const late = buildLoadBalancer(up);
    shareEjections(late, 'ejection:web', channel);
    expect(ejected(late)).toBe(true); // a worker started later gets the state first

    await primary.runHealthCheck(); // the real backend answers 200
    expect([primary, worker1, worker2, late].map(ejected)).toEqual([false, false, false, false]);
    expect(logger.lines).toHaveLength(2);
    expect(logger.lines[1]).toBe(`backend ${a.addr} is back from ejection: active health check passed`);
    for (const lb of [primary, worker1, worker2, late]) lb.outlierDetector?.close();
  });
});

test('the binary runs an http health check: a backend answering 503 leaves rotation, with one log line', async () => {
  let bStatus = 200;
  const a = await h.upstream();
  const b = await h.upstream(0, (req, res) => {
    req.resume();
    res.statusCode = req.url === '/health' ? bStatus : 200;
    res.end(`upstream b`);
  });
  const lb = await h.start(
    // A generous timeout: a loaded machine must not fail the healthy backend's checks.
    lbConf(h.dir, [a.addr, b.addr]).replace('      backends:', '      health_check: { type: http, path: /health, interval_ms: 100, timeout_ms: 5000, jitter_percent: 20 }\n      backends:'),
  );
  bStatus = 503;
  for (let i = 0; i < 200 && !lb.stderr().includes('unhealthy'); i++) await sleep(50);
  for (let i = 0; i < 6; i++) expect((await (await request(lb.url)).body.text())).toBe(`upstream ${a.port}`);
  const lines = lb.stderr().split('\n').filter((l) => l.includes('unhealthy'));
  expect(lines).toHaveLength(1);
  expect(lines[0]).toContain(`status 503 outside 200-399`);
});
