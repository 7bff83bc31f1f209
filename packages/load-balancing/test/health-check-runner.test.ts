/**
 * The health-check runner: per-backend jittered timers (spread checked statistically under a
 * fake clock), the concurrency bound (real slow HTTP servers counting concurrent probes), the
 * per-probe timeout guard, and timers following discovery.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Backend, Backends, HttpHealthCheck, LoadBalancer, StaticDiscovery, jitteredInterval, type HealthCheck } from '@pingora-ts/load-balancing';
import { Resources } from '../../../test-support/resources';

const res = new Resources();
afterEach(async () => {
  jest.useRealTimers();
  await res.closeAll();
});

/** A check that records when (fake clock) each backend was probed. */
function recordingCheck(): HealthCheck & { times: Map<string, number[]> } {
  const times = new Map<string, number[]>();
  return {
    times,
    async check(b) {
      const list = times.get(b.addr) ?? [];
      list.push(Date.now());
      times.set(b.addr, list);
    },
    healthThreshold: () => 1,
  };
}

function stats(xs: number[]): { min: number; max: number; mean: number; sd: number } {
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  const sd = Math.sqrt(xs.reduce((a, x) => a + (x - mean) ** 2, 0) / xs.length);
  return { min: Math.min(...xs), max: Math.max(...xs), mean, sd };
}

const addrs = (n: number) => Array.from({ length: n }, (_, i) => `10.0.${Math.floor(i / 250)}.${(i % 250) + 1}:80`);

describe('jitteredInterval', () => {
  it('is uniform over interval ± jitter', () => {
    const xs = Array.from({ length: 100_000 }, () => jitteredInterval(1000, 10, Math.random()));
    const s = stats(xs);
    expect(s.min).toBeGreaterThanOrEqual(900);
    expect(s.max).toBeLessThanOrEqual(1100);
    expect(Math.abs(s.mean - 1000)).toBeLessThan(2);
    expect(Math.abs(s.sd - 200 / Math.sqrt(12)) / (200 / Math.sqrt(12))).toBeLessThan(0.03); // a uniform's spread
    expect([jitteredInterval(1000, 10, 0), jitteredInterval(1000, 0, 0.9), jitteredInterval(1000, 250, 0)]).toEqual([900, 1000, 0]);
  });
});

describe('LoadBalancer.runHealthChecks (fake clock)', () => {
  it('checks each backend at once, then on its own timer spread by the jitter', async () => {
    jest.useFakeTimers({ now: 1_000_000 });
    const check = recordingCheck();
    const lb = LoadBalancer.fromBackends(addrs(50), { healthCheck: check, healthCheckFrequencyMs: 1000, healthCheckJitterPercent: 20 });
    const ac = new AbortController();
    const done = lb.runHealthChecks(ac.signal);
    await jest.advanceTimersByTimeAsync(30_000);
    ac.abort();
    await done;

    const gaps: number[] = [];
    const last: number[] = [];
    for (const times of check.times.values()) {
      expect(times[0]).toBe(1_000_000); // at once
      for (let i = 1; i < times.length; i++) gaps.push(times[i]! - times[i - 1]!);
      last.push(times[times.length - 1]!);
    }
    expect(check.times.size).toBe(50);
    const s = stats(gaps);
    expect(s.min).toBeGreaterThanOrEqual(800);
    expect(s.max).toBeLessThanOrEqual(1200);
    expect(Math.abs(s.mean - 1000)).toBeLessThan(20);
    expect(s.sd).toBeGreaterThan(0.75 * (400 / Math.sqrt(12)));
    expect(s.sd).toBeLessThan(1.25 * (400 / Math.sqrt(12)));
    // Started together, they drift apart: the last probes are spread, not in lockstep.
    expect(new Set(last).size).toBeGreaterThan(40);
  });

  it('without jitter, every gap is the interval', async () => {
    jest.useFakeTimers({ now: 0 });
    const check = recordingCheck();
    const lb = LoadBalancer.fromBackends(addrs(5), { healthCheck: check, healthCheckFrequencyMs: 500, healthCheckJitterPercent: 0 });
    const ac = new AbortController();
    const done = lb.runHealthChecks(ac.signal);
    await jest.advanceTimersByTimeAsync(5_000);
    ac.abort();
    await done;
    for (const times of check.times.values()) expect(times).toEqual([0, 500, 1000, 1500, 2000, 2500, 3000, 3500, 4000, 4500, 5000]);
  });

  it('gives a timer to backends discovery adds and stops those of removed ones', async () => {
    jest.useFakeTimers({ now: 0 });
    const check = recordingCheck();
    const discovery = StaticDiscovery.fromAddrs(['10.0.0.1:80', '10.0.0.2:80']);
    const lb = new LoadBalancer(new Backends(discovery), { healthCheck: check, healthCheckFrequencyMs: 1000, healthCheckJitterPercent: 0 });
    await lb.update();
    const ac = new AbortController();
    const done = lb.runHealthChecks(ac.signal);
    await jest.advanceTimersByTimeAsync(1500);
    discovery.remove('10.0.0.2:80');
    discovery.add(new Backend('10.0.0.3:80'));
    await lb.update();
    await jest.advanceTimersByTimeAsync(2000);
    ac.abort();
    await done;
    expect(check.times.get('10.0.0.1:80')).toEqual([0, 1000, 2000, 3000]);
    expect(check.times.get('10.0.0.2:80')).toEqual([0, 1000]);
    expect(check.times.get('10.0.0.3:80')).toEqual([1500, 2500, 3500]);
  });
});

/** `n` HTTP servers that answer after `delayMs`, counting the probes in flight across all of them. */
async function slowServers(n: number, delayMs: number) {
  const counter = { now: 0, max: 0, total: 0 };
  const handler = (_req: IncomingMessage, r: ServerResponse) => {
    counter.now++;
    counter.total++;
    counter.max = Math.max(counter.max, counter.now);
    const t = setTimeout(() => {
      counter.now--;
      r.end('ok');
    }, delayMs);
    r.on('close', () => clearTimeout(t));
  };
  const list: string[] = [];
  for (let i = 0; i < n; i++) list.push((await res.httpServer(handler)).address);
  return { addrs: list, counter };
}

describe('health-check concurrency and timeouts (real servers)', () => {
  it('never has more than healthCheckConcurrency probes in flight, in a round and in the background', async () => {
    const s = await slowServers(12, 80);
    const lb = LoadBalancer.fromBackends(s.addrs, {
      healthCheck: new HttpHealthCheck({ timeoutMs: 2000 }),
      parallelHealthCheck: true,
      healthCheckConcurrency: 3,
      healthCheckFrequencyMs: 50,
    });
    await lb.runHealthCheck();
    expect(s.counter.total).toBe(12);
    expect(s.counter.max).toBe(3);

    s.counter.max = 0;
    const ac = new AbortController();
    const done = lb.runHealthChecks(ac.signal);
    const started = Date.now();
    while (s.counter.total < 12 + 36 && Date.now() - started < 10_000) await new Promise((r) => setTimeout(r, 20));
    ac.abort();
    await done;
    expect(s.counter.total).toBeGreaterThanOrEqual(12 + 36);
    expect(s.counter.max).toBe(3);
    expect(lb.backends().items().every((b) => lb.backends().ready(b))).toBe(true);
  });

  it('a slow backend does not hold up the others: each is checked on its own timer', async () => {
    const slow = await slowServers(1, 4000);
    const fast = await slowServers(1, 0);
    const lb = LoadBalancer.fromBackends([slow.addrs[0]!, fast.addrs[0]!], { healthCheck: new HttpHealthCheck({ timeoutMs: 5000 }), healthCheckFrequencyMs: 40 });
    const ac = new AbortController();
    const done = lb.runHealthChecks(ac.signal);
    const started = Date.now();
    while (fast.counter.total < 3 && Date.now() - started < 3000) await new Promise((r) => setTimeout(r, 10));
    ac.abort();
    await done;
    expect(slow.counter.total).toBe(1);
    expect(fast.counter.total).toBeGreaterThanOrEqual(3);
  });

  it('healthCheckTimeoutMs fails a probe that never settles and aborts its signal', async () => {
    let aborted = 0;
    const hang: HealthCheck = {
      check: (_b, signal) =>
        new Promise<void>(() => {
          signal?.addEventListener('abort', () => aborted++);
        }),
      healthThreshold: () => 1,
    };
    const lb = LoadBalancer.fromBackends(['10.0.0.1:80'], { healthCheck: hang, healthCheckTimeoutMs: 50 });
    const errors: string[] = [];
    lb.on('health', (_b, _h, e) => errors.push(e?.message ?? ''));
    await lb.runHealthCheck();
    expect(lb.backends().ready('10.0.0.1:80')).toBe(false);
    expect(errors).toEqual(['health check of 10.0.0.1:80 timed out after 50 ms']);
    expect(aborted).toBe(1);
  });

  it('a throwing health listener fails that round only: later probes of the backend still run', async () => {
    let down = true;
    let probes = 0;
    const lb = LoadBalancer.fromBackends(['10.0.0.1:80'], {
      healthCheck: {
        async check() {
          probes++;
          if (down) throw new Error('down');
        },
        healthThreshold: () => 1,
      },
    });
    lb.once('health', () => {
      throw new Error('listener bug');
    });
    await expect(lb.runHealthCheck()).rejects.toThrow('listener bug');
    down = false;
    await lb.runHealthCheck();
    expect(probes).toBe(2);
    expect(lb.backends().ready('10.0.0.1:80')).toBe(true);
  });

  it('validates the runner options', () => {
    expect(() => LoadBalancer.fromBackends([], { healthCheckConcurrency: 0 })).toThrow(/healthCheckConcurrency/);
    expect(() => LoadBalancer.fromBackends([], { healthCheckJitterPercent: 101 })).toThrow(/healthCheckJitterPercent/);
    expect(() => LoadBalancer.fromBackends([], { healthCheckTimeoutMs: -1 })).toThrow(/healthCheckTimeoutMs/);
  });
});
