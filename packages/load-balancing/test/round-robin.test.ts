import { Backend, LoadBalancer, RoundRobin } from '@pingora-ts/load-balancing';

function backends(weights: number[]): Backend[] {
  return weights.map((w, i) => new Backend(`10.0.0.${i + 1}:80`, w));
}

/** `n` first picks of a fresh RoundRobin selector, as indexes into `list`. */
function picks(list: Backend[], n: number): number[] {
  const selector = new RoundRobin().build(list);
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push(list.indexOf(selector.iter('').next()!));
  return out;
}

function counts(seq: number[], size: number): number[] {
  const c = new Array<number>(size).fill(0);
  for (const i of seq) c[i]!++;
  return c;
}

function longestRuns(seq: number[], size: number): number[] {
  const runs = new Array<number>(size).fill(0);
  let run = 0;
  for (let i = 0; i < seq.length; i++) {
    run = i > 0 && seq[i] === seq[i - 1] ? run + 1 : 1;
    runs[seq[i]!] = Math.max(runs[seq[i]!]!, run);
  }
  return runs;
}

describe('RoundRobin', () => {
  it.each([[[1, 2]], [[1, 1, 1]], [[5, 1, 1]], [[3, 7]], [[1, 2, 3, 4]], [[10, 1]], [[2, 2, 5, 1]], [[7]]])(
    'gives each backend exactly its weight over multiples of the weight sum: %j',
    (weights) => {
      const list = backends(weights);
      const sum = weights.reduce((a, b) => a + b, 0);
      for (const cycles of [1, 3, 100]) {
        expect(counts(picks(list, sum * cycles), list.length)).toEqual(weights.map((w) => w * cycles));
      }
    },
  );

  it('weights 1,2 over 300 picks: exactly 100 and 200', () => {
    const list = backends([1, 2]);
    expect(counts(picks(list, 300), 2)).toEqual([100, 200]);
  });

  it('is smooth: nginx order for 5,1,1', () => {
    expect(picks(backends([5, 1, 1]), 14)).toEqual([0, 0, 1, 0, 2, 0, 0, 0, 0, 1, 0, 2, 0, 0]);
  });

  // Only meaningful when the others' weights add up to 2 or more: with weights 6,1 every
  // sequence of period 7 has six `a`s in a row (across the cycle boundary).
  it.each([[[5, 1, 1]], [[3, 3]], [[4, 2, 1]], [[10, 5, 3]], [[6, 1, 1]], [[3, 1, 1, 1]], [[20, 2]]])(
    'never picks a backend `weight` times in a row when others exist: %j',
    (weights) => {
      const list = backends(weights);
      const sum = weights.reduce((a, b) => a + b, 0);
      const runs = longestRuns(picks(list, sum * 10), list.length);
      weights.forEach((w, i) => {
        if (w >= 3) expect(runs[i]).toBeLessThan(w);
      });
      // and much better than blocks for a heavy backend: 20,2 runs at most 11, not 20
      if (weights[0] === 20) expect(runs[0]).toBeLessThanOrEqual(11);
    },
  );

  it('yields every backend once per selection, the pick first (retries do not move the rotation)', () => {
    const list = backends([1, 2, 3]);
    const selector = new RoundRobin().build(list);
    const seen: number[][] = [];
    for (let i = 0; i < 6; i++) {
      const iter = selector.iter('');
      const order: number[] = [];
      for (let b = iter.next(); b !== null; b = iter.next()) order.push(list.indexOf(b));
      seen.push(order);
    }
    for (const order of seen) expect([...order].sort()).toEqual([0, 1, 2]);
    expect(counts(seen.map((o) => o[0]!), 3)).toEqual([1, 2, 3]);
  });

  it('builds over no backends', () => {
    expect(new RoundRobin().build([]).iter('').next()).toBeNull();
  });

  it('keeps the proportions of healthy backends when one is unhealthy', () => {
    const list = backends([1, 2, 3]);
    const lb = LoadBalancer.fromBackends(list);
    lb.backends().setHealth(list[2]!, false);
    const c = new Map<Backend, number>();
    for (let i = 0; i < 300; i++) {
      const b = lb.select('', 3)!;
      c.set(b, (c.get(b) ?? 0) + 1);
    }
    expect([c.get(list[0]!), c.get(list[1]!), c.get(list[2]!)]).toEqual([100, 200, undefined]);
  });
});

describe('RoundRobin with equal weights', () => {
  it('picks exactly what the smooth algorithm picks (plain rotation), whatever the shared weight', () => {
    for (const w of [1, 7]) {
      const list = ['127.0.0.1:1', '127.0.0.1:2', '127.0.0.1:3', '127.0.0.1:4'].map((a) => new Backend(a, w));
      // Smooth WRR with equal weights: the scores rise together and a tie goes to the first.
      const selector = new RoundRobin().build(list);
      const picks = Array.from({ length: 12 }, () => selector.iter('').next()?.addr);
      expect(picks).toEqual([...list, ...list, ...list].map((b) => b.addr));
    }
  });

  it('keeps the smooth order when weights differ but sum to a multiple of the first (2, 1, 3)', () => {
    const list = [new Backend('127.0.0.1:1', 2), new Backend('127.0.0.1:2', 1), new Backend('127.0.0.1:3', 3)];
    const selector = new RoundRobin().build(list);
    const picks = Array.from({ length: 6 }, () => selector.iter('').next()?.addr.slice(-1));
    // current += w; pick max (first on ties); winner -= 6
    expect(picks).toEqual(['3', '1', '2', '3', '1', '3']);
  });
});
