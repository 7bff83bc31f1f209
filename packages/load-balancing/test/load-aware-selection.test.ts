import { Backend, LeastConn, LoadBalancer, LoadTracker, P2cEwma, Random, RoundRobin } from '@pingora-ts/load-balancing';
import { seeded } from '../../../test-support/seeded';

function list(weights: number[]): Backend[] {
  return weights.map((w, i) => new Backend(`10.0.0.${i + 1}:80`, w));
}

describe('RoundRobin and Random through a LoadBalancer', () => {
  it('round robin is exact over every cycle of the weight sum', () => {
    const rnd = seeded(1);
    for (let t = 0; t < 20; t++) {
      const weights = Array.from({ length: 1 + Math.floor(rnd() * 6) }, () => 1 + Math.floor(rnd() * 9));
      const backends = list(weights);
      const lb = LoadBalancer.fromBackends(backends, { selection: new RoundRobin() });
      const sum = weights.reduce((a, b) => a + b, 0);
      for (let cycle = 0; cycle < 3; cycle++) {
        const counts = new Map<Backend, number>();
        for (let i = 0; i < sum; i++) {
          const b = lb.select('', 1)!;
          counts.set(b, (counts.get(b) ?? 0) + 1);
        }
        expect(backends.map((b) => counts.get(b) ?? 0)).toEqual(weights);
      }
    }
  });

  it('weighted random is within 1 % of each weight share over 10^6 draws', () => {
    const weights = [1, 2, 3, 4];
    const backends = list(weights);
    const lb = LoadBalancer.fromBackends(backends, { selection: new Random(seeded(7)) });
    const counts = new Map<Backend, number>();
    const draws = 1_000_000;
    for (let i = 0; i < draws; i++) {
      const b = lb.select('', 1)!;
      counts.set(b, (counts.get(b) ?? 0) + 1);
    }
    backends.forEach((b, i) => {
      const expected = weights[i]! / 10;
      expect(Math.abs(counts.get(b)! / draws - expected) / expected).toBeLessThan(0.01);
    });
  });
});

describe('LeastConn', () => {
  it('never picks a busier healthy backend (in flight / weight), over random loads, weights and health', () => {
    const rnd = seeded(3);
    for (let t = 0; t < 300; t++) {
      const n = 1 + Math.floor(rnd() * 8);
      const backends = list(Array.from({ length: n }, () => 1 + Math.floor(rnd() * 4)));
      const load = new LoadTracker();
      const lb = LoadBalancer.fromBackends(backends, { selection: new LeastConn(), loadTracker: load });
      for (const b of backends) {
        const inflight = Math.floor(rnd() * 6);
        for (let k = 0; k < inflight; k++) lb.requestStarted(b);
        if (rnd() < 0.2) lb.backends().setHealth(b, false);
      }
      const ready = backends.filter((b) => lb.backends().ready(b));
      for (let k = 0; k < 5; k++) {
        const pick = lb.select('', 1);
        if (ready.length === 0) {
          expect(pick).toBeNull();
          break;
        }
        const best = Math.min(...ready.map((b) => load.inflight(b) / b.weight));
        expect(load.inflight(pick!) / pick!.weight).toBe(best);
        lb.requestStarted(pick!);
      }
    }
  });

  it('shares equally loaded backends in turn, and sends a new request to the idle one', () => {
    const backends = list([1, 1, 1]);
    const lb = LoadBalancer.fromBackends(backends, { selection: new LeastConn() });
    // Idle: requests that end at once rotate over all three.
    const seen: Backend[] = [];
    for (let i = 0; i < 6; i++) {
      const b = lb.select('', 1)!;
      lb.requestStarted(b);
      lb.requestEnded(b, 'ok', 1);
      seen.push(b);
    }
    expect(seen).toEqual([...backends, ...backends]);
    // Two held by backends 0 and 1: the next goes to 2, then (all at 1) they rotate again.
    lb.requestStarted(backends[0]!);
    lb.requestStarted(backends[1]!);
    expect(lb.select('', 1)).toBe(backends[2]);
  });

  it('shares idle backends by weight: requests that end at once split as the weights', () => {
    const backends = list([1, 3, 2]);
    const lb = LoadBalancer.fromBackends(backends, { selection: new LeastConn() });
    const counts = new Map<Backend, number>();
    for (let i = 0; i < 600; i++) {
      const b = lb.select('', 1)!;
      lb.requestStarted(b);
      lb.requestEnded(b, 'ok', 1);
      counts.set(b, (counts.get(b) ?? 0) + 1);
    }
    expect(backends.map((b) => counts.get(b))).toEqual([100, 300, 200]);
  });

  it('after the pick, yields the others from least to most loaded', () => {
    const backends = list([1, 1, 1, 2]);
    const lb = LoadBalancer.fromBackends(backends, { selection: new LeastConn() });
    const [a, b, c, d] = backends as [Backend, Backend, Backend, Backend];
    for (const [be, k] of [[a, 3], [b, 0], [c, 1], [d, 4]] as const) for (let i = 0; i < k; i++) lb.requestStarted(be);
    const order: Backend[] = [];
    lb.selectWith('', 10, (x) => {
      order.push(x);
      return false;
    });
    // Load per weight: a 3, b 0, c 1, d 2.
    expect(order).toEqual([b, c, d, a]);
  });
});

describe('P2cEwma', () => {
  it('of the two drawn, takes the one with the lower (latency + 1) × (in flight + 1) / weight', () => {
    const backends = list([1, 1, 2]);
    const [a, b, c] = backends as [Backend, Backend, Backend];
    const draws = [0.1, 0.6]; // first draw: index 0 (a); second among the two others: index 1 -> c
    let k = 0;
    const load = new LoadTracker();
    const lb = LoadBalancer.fromBackends(backends, { selection: new P2cEwma(() => draws[k++ % 2]!), loadTracker: load });
    // a: latency 10, idle -> cost 11; c: latency 30, idle, weight 2 -> cost 15.5.
    lb.requestStarted(a);
    lb.requestEnded(a, 'ok', 10);
    lb.requestStarted(c);
    lb.requestEnded(c, 'ok', 30);
    expect(lb.select('', 1)).toBe(a);
    // One request in flight on a: cost 22 > 15.5.
    lb.requestStarted(a);
    expect(lb.select('', 1)).toBe(c);
    expect(load.inflight(b)).toBe(0);
  });

  it('draws two distinct backends; retries get the other, then the rest once each', () => {
    const backends = list([1, 1, 1, 1, 1]);
    const rnd = seeded(11);
    const s = new P2cEwma(rnd).build(backends, new LoadTracker());
    for (let t = 0; t < 200; t++) {
      const it = s.iter('');
      const order: Backend[] = [];
      for (let x = it.next(); x !== null; x = it.next()) order.push(x);
      expect(new Set(order).size).toBe(5);
      expect(order).toHaveLength(5);
    }
    const one = new P2cEwma(rnd).build(list([1]), new LoadTracker()).iter('');
    expect(one.next()).not.toBeNull();
    expect(one.next()).toBeNull();
  });

  it('steers away from a slow backend over many picks', () => {
    const backends = list([1, 1, 1]);
    const load = new LoadTracker();
    const lb = LoadBalancer.fromBackends(backends, { selection: new P2cEwma(seeded(5)), loadTracker: load });
    for (const [b, ms] of [[backends[0]!, 5], [backends[1]!, 5], [backends[2]!, 500]] as const) {
      lb.requestStarted(b);
      lb.requestEnded(b, 'ok', ms);
    }
    let slow = 0;
    for (let i = 0; i < 3000; i++) if (lb.select('', 1) === backends[2]) slow++;
    // Only when both draws would be the slow one could it win; with distinct draws, never.
    expect(slow).toBe(0);
  });
});
