import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Agent, request } from 'undici';
import { Backend, Backends, LoadBalancer, StaticDiscovery, type BackendsDiff, type HealthCheck } from '../src';

const A = '127.0.0.1:7001';
const B = '127.0.0.1:7002';
const C = '127.0.0.1:7003';

const list = (lb: LoadBalancer): string[] => lb.backends().items().map((b) => `${b.addr}/${b.weight}`);
const addrs = (bs: readonly Backend[]): string[] => bs.map((b) => b.addr);

/** Every backend `select` returns over `n` picks. */
function picked(lb: LoadBalancer, n: number): Set<string> {
  const seen = new Set<string>();
  for (let i = 0; i < n; i++) {
    const b = lb.select('', 8);
    if (b) seen.add(b.addr);
  }
  return seen;
}

/** A health check whose answers the test sets by address (no sockets: the outcome is the point). */
class ScriptedCheck implements HealthCheck {
  readonly up = new Set<string>();
  constructor(private readonly successes: number) {}
  async check(b: Backend): Promise<void> {
    if (!this.up.has(b.addr)) throw new Error(`${b.addr} is down`);
  }
  healthThreshold(success: boolean): number {
    return success ? this.successes : 1;
  }
}

describe('discovery updates', () => {
  it('one change per update: diff, one generation bump, health and counters of the backends that stay kept', async () => {
    const discovery = StaticDiscovery.fromAddrs([A, B]);
    const lb = new LoadBalancer(new Backends(discovery));
    await lb.update();
    const diffs: BackendsDiff[] = [];
    lb.on('change', (_list, diff) => diffs.push(diff));
    lb.backends().setHealth(B, false);
    lb.requestStarted(lb.backends().get(A)!);

    discovery.set([new Backend(A, 3), new Backend(B), new Backend(C)]);
    const gen = lb.backends().generation;
    await lb.update();
    expect(lb.backends().generation).toBe(gen + 1);
    expect(diffs).toHaveLength(1);
    expect(addrs(diffs[0]!.added)).toEqual([C]);
    expect(addrs(diffs[0]!.updated)).toEqual([A]);
    expect(diffs[0]!.removed).toEqual([]);
    expect(lb.backends().isHealthy(B)).toBe(false);
    expect(lb.load.inflight(lb.backends().get(A)!)).toBe(1); // same address: same counters
  });

  it('new backends start healthy by default, or (newBackendsHealthy: false) after one passing check', async () => {
    const discovery = StaticDiscovery.fromAddrs([A]);
    const hc = new ScriptedCheck(3);
    hc.up.add(A);
    hc.up.add(B);
    const lb = new LoadBalancer(new Backends(discovery), { healthCheck: hc, newBackendsHealthy: false });
    await lb.update();
    expect(lb.select('', 4)).toBeNull(); // not checked yet
    await lb.runHealthCheck();
    expect(picked(lb, 4)).toEqual(new Set([A])); // one pass is enough for a new backend, not 3

    discovery.add(new Backend(B));
    discovery.add(new Backend(C));
    await lb.update();
    expect(picked(lb, 6)).toEqual(new Set([A]));
    await lb.runHealthCheck();
    expect(picked(lb, 6)).toEqual(new Set([A, B])); // C failed its first check: still out

    // Later flips use the thresholds again: B needs 1 failure out, 3 passes back in.
    hc.up.delete(B);
    await lb.runHealthCheck();
    hc.up.add(B);
    await lb.runHealthCheck();
    expect(lb.backends().isHealthy(B)).toBe(false);

    const eager = LoadBalancer.fromBackends([A]);
    eager.addBackend(B);
    expect(eager.backends().isHealthy(B)).toBe(true); // as today
  });
});

describe('runtime control', () => {
  it('add, remove, disable, enable and weight: each one change and one generation bump', () => {
    const lb = LoadBalancer.fromBackends([A, B]);
    const events: string[] = [];
    lb.on('change', (bs, d) => events.push(`${addrs(bs).length}: +${addrs(d.added)} -${addrs(d.removed)} ~${addrs(d.updated)}`));
    const step = (fn: () => boolean): boolean => {
      const gen = lb.backends().generation;
      const changed = fn();
      expect(lb.backends().generation).toBe(changed ? gen + 1 : gen);
      return changed;
    };

    expect(step(() => lb.addBackend(new Backend(C, 2)))).toBe(true);
    expect(picked(lb, 8)).toEqual(new Set([A, B, C]));
    expect(step(() => lb.disable(A))).toBe(true);
    expect(step(() => lb.disable(A))).toBe(false);
    expect(picked(lb, 8)).toEqual(new Set([B, C]));
    expect(step(() => lb.setWeight(B, 5))).toBe(true);
    expect(step(() => lb.setWeight(B, 5))).toBe(false);
    expect(list(lb)).toEqual([`${A}/1`, `${B}/5`, `${C}/2`]);
    expect(step(() => lb.removeBackend(C))).toBe(true);
    expect(step(() => lb.removeBackend(C))).toBe(false);
    expect(step(() => lb.enable(A))).toBe(true);
    expect(picked(lb, 12)).toEqual(new Set([A, B]));
    expect(() => lb.setWeight(A, 0)).toThrow(/invalid weight 0/);
    expect(lb.setWeight('127.0.0.1:1', 2)).toBe(false); // not in the list
    expect(events).toEqual([`3: +${C} - ~`, `3: + - ~${A}`, `3: + - ~${B}`, `2: + -${C} ~`, `2: + - ~${A}`]);
  });

  it('manual changes are overlays: they survive discovery updates until cleared', async () => {
    const discovery = StaticDiscovery.fromAddrs([A, B]);
    const lb = new LoadBalancer(new Backends(discovery));
    await lb.update();
    lb.addBackend(C); // not in discovery
    lb.removeBackend(B); // in discovery
    lb.disable(A);
    lb.setWeight(A, 4);

    discovery.set([new Backend(A, 2), new Backend(B)]); // a new answer: A's weight, B still listed
    await lb.update();
    expect(list(lb)).toEqual([`${A}/4`, `${C}/1`]);
    expect(lb.backends().isEnabled(A)).toBe(false);

    discovery.set([new Backend(B)]); // A leaves and comes back: still disabled
    await lb.update();
    discovery.set([new Backend(A, 2), new Backend(B)]);
    await lb.update();
    expect(lb.backends().isEnabled(A)).toBe(false);

    const gen = lb.backends().generation;
    expect(lb.backends().clearOverrides()).toBe(true);
    expect(lb.backends().generation).toBe(gen + 1);
    expect(list(lb)).toEqual([`${A}/2`, `${B}/1`]);
    expect(lb.backends().isEnabled(A)).toBe(true);
  });
});

describe('draining', () => {
  it('a removed backend gets no new request, its in-flight request completes, then `drained`', async () => {
    let hold: ServerResponse | null = null;
    const slow = createServer((_req, res) => {
      hold = res;
      res.writeHead(200);
      res.write('part 1, ');
    });
    const fast = createServer((_req, res) => res.end('fast'));
    await Promise.all([slow, fast].map((s) => new Promise<void>((r) => s.listen(0, '127.0.0.1', r))));
    const agent = new Agent();
    try {
      const slowAddr = `127.0.0.1:${(slow.address() as AddressInfo).port}`;
      const fastAddr = `127.0.0.1:${(fast.address() as AddressInfo).port}`;
      const discovery = StaticDiscovery.fromAddrs([slowAddr, fastAddr]);
      const lb = new LoadBalancer(new Backends(discovery));
      await lb.update();
      const drained: string[] = [];
      lb.on('drained', (b) => drained.push(b.addr));

      const first = lb.select('', 4)!;
      expect(first.addr).toBe(slowAddr);
      lb.requestStarted(first);
      const started = performance.now();
      const res = await request(`http://${first.addr}/`, { dispatcher: agent });
      expect(res.statusCode).toBe(200);

      discovery.remove(slowAddr);
      await lb.update(); // removed while the response is still streaming
      expect(picked(lb, 4)).toEqual(new Set([fastAddr]));
      expect(lb.load.inflight(first)).toBe(1); // its counters are kept while it drains
      expect(drained).toEqual([]);

      hold!.end('part 2');
      expect(await res.body.text()).toBe('part 1, part 2');
      lb.requestEnded(first, 'ok', performance.now() - started);
      expect(drained).toEqual([slowAddr]);
      expect(lb.load.inflight(first)).toBe(0);

      // An idle backend drains at once; one removed by hand drains the same way.
      lb.removeBackend(fastAddr);
      expect(drained).toEqual([slowAddr, fastAddr]);
      expect(lb.select('', 4)).toBeNull();
    } finally {
      await agent.close();
      await Promise.all([slow, fast].map((s) => new Promise((r) => s.close(r))));
    }
  });

  it('a backend re-added while draining does not report drained', () => {
    const lb = LoadBalancer.fromBackends([A, B]);
    const drained: string[] = [];
    lb.on('drained', (b) => drained.push(b.addr));
    const a = lb.backends().get(A)!;
    lb.requestStarted(a);
    lb.removeBackend(A);
    lb.addBackend(A);
    lb.requestEnded(a, 'ok', 1);
    expect(drained).toEqual([]);
    expect(picked(lb, 4)).toEqual(new Set([A, B]));
  });
});
