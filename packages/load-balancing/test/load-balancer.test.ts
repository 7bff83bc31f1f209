import type { Logger } from '@pingora-ts/core';
import { Backend, Backends, Ketama, LoadBalancer, Random, RoundRobin, StaticDiscovery, type HealthCheck } from '@pingora-ts/load-balancing';

const A = '10.0.0.1:80';
const B = '10.0.0.2:80';
const C = '10.0.0.3:80';

function tally(lb: LoadBalancer, n: number): Record<string, number> {
  const out: Record<string, number> = {};
  for (let i = 0; i < n; i++) {
    const b = lb.select('', 8);
    const k = b ? b.addr : 'null';
    out[k] = (out[k] ?? 0) + 1;
  }
  return out;
}

/** A health check whose outcome per address the test sets. */
class ScriptedCheck implements HealthCheck {
  readonly down = new Set<string>();
  constructor(private readonly thresholds = { success: 1, failure: 1 }) {}
  async check(b: Backend): Promise<void> {
    if (this.down.has(b.addr)) throw new Error(`${b.addr} is down`);
  }
  healthThreshold(success: boolean): number {
    return success ? this.thresholds.success : this.thresholds.failure;
  }
}

function recordingLogger(): Logger & { lines: { level: string; obj: object; msg?: string }[] } {
  const lines: { level: string; obj: object; msg?: string }[] = [];
  const at = (level: string) => (obj: object, msg?: string) => void lines.push({ level, obj, msg });
  return { lines, error: at('error'), warn: at('warn'), info: at('info'), debug: at('debug') };
}

describe('LoadBalancer.select', () => {
  it('defaults to weighted round robin over strings and backends', () => {
    const lb = LoadBalancer.fromBackends([A, new Backend(B, 2)]);
    expect(tally(lb, 30)).toEqual({ [A]: 10, [B]: 20 });
    expect(lb.backends().items().map((b) => b.addr)).toEqual([A, B]);
  });

  it('skips unhealthy backends, and takes them back when healthy again', () => {
    const lb = LoadBalancer.fromBackends([A, B, C]);
    lb.backends().setHealth(B, false);
    expect(tally(lb, 20)).toEqual({ [A]: 10, [C]: 10 });
    lb.backends().setHealth(B, true);
    expect(tally(lb, 30)).toEqual({ [A]: 10, [B]: 10, [C]: 10 });
  });

  it('skips disabled backends', () => {
    const lb = LoadBalancer.fromBackends([A, B]);
    expect(lb.backends().setEnabled(A, false)).toBe(true);
    expect(lb.backends().ready(A)).toBe(false);
    expect(lb.backends().isHealthy(A)).toBe(true);
    expect(tally(lb, 4)).toEqual({ [B]: 4 });
  });

  it('returns null when every backend is unhealthy, when there are none, or maxIterations < 1', () => {
    const lb = LoadBalancer.fromBackends([A, B]);
    expect(lb.select('', 0)).toBeNull();
    lb.backends().setHealth(A, false);
    lb.backends().setHealth(B, false);
    expect(lb.select('', 10)).toBeNull();
    expect(LoadBalancer.fromBackends([]).select('', 10)).toBeNull();
  });

  it('accepts a Uint8Array key', () => {
    const lb = LoadBalancer.fromBackends([A], { selection: new Random() });
    expect(lb.select(new Uint8Array([1, 2, 3]), 1)?.addr).toBe(A);
  });
});

describe('LoadBalancer.selectWith', () => {
  it('lets the caller skip backends it already tried', () => {
    const lb = LoadBalancer.fromBackends([A, B, C]);
    const tried = new Set<string>();
    const order: string[] = [];
    for (let i = 0; i < 3; i++) {
      const b = lb.selectWith('', 3, (b, healthy) => healthy && !tried.has(b.addr))!;
      tried.add(b.addr);
      order.push(b.addr);
    }
    expect(order.sort()).toEqual([A, B, C]);
    expect(lb.selectWith('', 3, (b, healthy) => healthy && !tried.has(b.addr))).toBeNull();
  });

  it('calls accept at most maxIterations times', () => {
    const lb = LoadBalancer.fromBackends([A, B, C]);
    let calls = 0;
    expect(lb.selectWith('', 2, () => (calls++, false))).toBeNull();
    expect(calls).toBe(2);
    // the third candidate is reachable with 3 iterations but not 2
    const first = lb.selectWith('', 1, () => true)!;
    const reject2 = (limit: number) => {
      let n = 0;
      return lb.selectWith('', limit, () => ++n === 3);
    };
    expect(first).not.toBeNull();
    expect(reject2(2)).toBeNull();
    expect(reject2(3)).not.toBeNull();
  });

  it('offers unhealthy backends after the healthy ones, flagged healthy=false', () => {
    const lb = LoadBalancer.fromBackends([A, B, C]);
    lb.backends().setHealth(A, false);
    lb.backends().setHealth(C, false);
    const seen: [string, boolean][] = [];
    const pick = lb.selectWith('', 10, (b, healthy) => (seen.push([b.addr, healthy]), !healthy));
    expect(seen[0]).toEqual([B, true]);
    expect(seen.slice(1).map(([, h]) => h)).toEqual([false]);
    expect([A, C]).toContain(pick!.addr);
    // all unhealthy: a fail-open caller can still get one
    lb.backends().setHealth(B, false);
    expect(lb.selectWith('', 10, () => true)).not.toBeNull();
  });
});

describe('LoadBalancer health checks', () => {
  it('runs the check on every backend, flips state after the thresholds, emits and logs', async () => {
    const check = new ScriptedCheck({ success: 3, failure: 2 });
    const logger = recordingLogger();
    const lb = LoadBalancer.fromBackends([A, B], { healthCheck: check, logger });
    const events: [string, boolean, string | undefined][] = [];
    lb.on('health', (b, healthy, error) => events.push([b.addr, healthy, error?.message]));

    check.down.add(A);
    await lb.runHealthCheck();
    expect(lb.backends().ready(A)).toBe(true); // 1 failure of 2
    await lb.runHealthCheck();
    expect(lb.backends().ready(A)).toBe(false);
    expect(tally(lb, 4)).toEqual({ [B]: 4 });

    check.down.delete(A);
    await lb.runHealthCheck();
    await lb.runHealthCheck();
    expect(lb.backends().ready(A)).toBe(false); // 2 successes of 3
    await lb.runHealthCheck();
    expect(lb.backends().ready(A)).toBe(true);

    expect(events).toEqual([
      [A, false, `${A} is down`],
      [A, true, undefined],
    ]);
    expect(logger.lines.map((l) => [l.level, (l.obj as { backend: string }).backend])).toEqual([
      ['warn', A],
      ['info', A],
    ]);
    expect(logger.lines[0]!.msg).toContain(A);
  });

  it('does nothing without a health check; checks in parallel when asked', async () => {
    const lb = LoadBalancer.fromBackends([A, B, C]);
    await lb.runHealthCheck();
    expect(lb.backends().items().every((b) => lb.backends().ready(b))).toBe(true);

    let active = 0;
    let maxActive = 0;
    lb.setHealthCheck({
      async check() {
        active++;
        maxActive = Math.max(maxActive, active);
        await new Promise((r) => setTimeout(r, 20));
        active--;
      },
      healthThreshold: () => 1,
    });
    await lb.runHealthCheck();
    expect(maxActive).toBe(1);
    lb.parallelHealthCheck = true;
    await lb.runHealthCheck();
    expect(maxActive).toBe(3);
  });

  it('never overlaps two rounds; a call during a round gets a fresh round after it', async () => {
    let active = 0;
    let maxActive = 0;
    let rounds = 0;
    const lb = LoadBalancer.fromBackends([A], {
      healthCheck: {
        async check() {
          active++;
          rounds++;
          maxActive = Math.max(maxActive, active);
          await new Promise((r) => setTimeout(r, 20));
          active--;
        },
        healthThreshold: () => 1,
      },
    });
    await Promise.all([lb.runHealthCheck(), lb.runHealthCheck(), lb.runHealthCheck()]);
    expect(maxActive).toBe(1);
    expect(rounds).toBe(2); // the first, then one shared by the two callers that waited
  });

  it('rejects bad frequencies', () => {
    const lb = LoadBalancer.fromBackends([A]);
    expect(() => (lb.healthCheckFrequencyMs = 0)).toThrow(/healthCheckFrequencyMs/);
    expect(() => new LoadBalancer(lb.backends(), { updateFrequencyMs: -5 })).toThrow(/updateFrequencyMs/);
    lb.healthCheckFrequencyMs = null;
    expect(lb.healthCheckFrequencyMs).toBeNull();
  });
});

describe('LoadBalancer.update (discovery)', () => {
  it('applies discovery changes and keeps the health of backends that stay', async () => {
    const discovery = StaticDiscovery.fromAddrs([A, B]);
    const lb = new LoadBalancer(new Backends(discovery));
    expect(lb.select('', 1)).toBeNull(); // nothing discovered yet
    const changes: string[][] = [];
    lb.on('change', (list) => changes.push(list.map((b) => b.addr)));

    await lb.update();
    expect(tally(lb, 4)).toEqual({ [A]: 2, [B]: 2 });
    lb.backends().setHealth(B, false);

    discovery.add(new Backend(C, 2));
    discovery.remove(A);
    await lb.update();
    expect(lb.backends().items().map((b) => b.addr)).toEqual([B, C]);
    expect(lb.backends().ready(B)).toBe(false); // kept
    expect(lb.backends().ready(C)).toBe(true); // new ones start healthy
    expect(tally(lb, 4)).toEqual({ [C]: 4 });

    discovery.add(new Backend(A));
    await lb.update();
    expect(lb.backends().ready(A)).toBe(true); // removed then re-added: fresh state
    expect(changes).toEqual([[A, B], [B, C], [B, C, A]]);

    await lb.update(); // same list: no change event
    expect(changes).toHaveLength(3);
  });

  it('keeps the old list when discovery fails, and drops duplicate addresses', async () => {
    let fail = false;
    const backends = new Backends({
      async discover() {
        if (fail) throw new Error('dns down');
        return [new Backend(A), new Backend(A, 5), new Backend(B)];
      },
    });
    await backends.update();
    expect(backends.items().map((b) => `${b.addr}/${b.weight}`)).toEqual([`${A}/1`, `${B}/1`]);
    fail = true;
    await expect(backends.update()).rejects.toThrow('dns down');
    expect(backends.items()).toHaveLength(2);
    expect(backends.get(B)?.addr).toBe(B);
  });

  it('StaticDiscovery set/add/remove', async () => {
    const d = new StaticDiscovery([new Backend(A)]);
    d.add(new Backend(A, 4)); // replaces in place
    d.add(new Backend(B));
    expect((await d.discover()).map((b) => `${b.addr}/${b.weight}`)).toEqual([`${A}/4`, `${B}/1`]);
    expect(d.remove(A)).toBe(true);
    expect(d.remove(A)).toBe(false);
    d.set([new Backend(C)]);
    expect((await d.discover()).map((b) => b.addr)).toEqual([C]);
  });
});

describe('keylessSelection', () => {
  it('picks for an empty key (round robin beside a hash), the hash for every other key', () => {
    const backends = ['10.0.0.1:80', '10.0.0.2:80', '10.0.0.3:80'].map((a) => new Backend(a));
    const lb = LoadBalancer.fromBackends(backends, { selection: new Ketama(), keylessSelection: new RoundRobin() });
    expect(Array.from({ length: 6 }, () => lb.select('', 4)!.addr)).toEqual([...backends, ...backends].map((b) => b.addr));
    const k = lb.select('user-42', 4)!.addr;
    expect(Array.from({ length: 5 }, () => lb.select('user-42', 4)!.addr)).toEqual([k, k, k, k, k]);
    // Without it, an empty key is hashed like any other: always the same backend.
    const plain = LoadBalancer.fromBackends(backends, { selection: new Ketama() });
    expect(new Set(Array.from({ length: 6 }, () => plain.select('', 4)!.addr)).size).toBe(1);
  });
});
