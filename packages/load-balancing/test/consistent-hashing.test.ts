import { Backend, FnvHash, Ketama, LoadBalancer, Maglev, type SelectionAlgorithm } from '@pingora-ts/load-balancing';

const NO_LOAD = { inflight: () => 0, latencyMs: () => 0 };
const KEYS = Array.from({ length: 100_000 }, (_, i) => `/item/${i}?v=${(i * 7919) % 1000}`);

function list(n: number, from = 1): Backend[] {
  return Array.from({ length: n }, (_, i) => new Backend(`10.0.${Math.floor((from + i) / 250)}.${(from + i) % 250}:8080`));
}

/** The first pick of each key. */
function picks(algo: SelectionAlgorithm, backends: Backend[]): string[] {
  const s = algo.build(backends, NO_LOAD);
  return KEYS.map((k) => s.iter(k).next()!.addr);
}

// Ketama gives each backend 160 points per weight (bit-exact with nginx), so one backend's
// share of the keys spreads about ±8% (1/√160) around 1/N: a removal moves exactly that
// backend's keys, which is 1/N within 15%. Maglev's table evens shares out (within 10%), at
// the cost of moving a few keys between the remaining backends (Maglev paper §3.4).
describe.each([
  ['Ketama', () => new Ketama(), 0.15, 1],
  ['Maglev', () => new Maglev(), 0.1, 0.9],
])('%s moves about 1/N of 100,000 keys when one backend changes', (_name, make, tolerance, ownShare) => {
  const N = 10;
  const base = list(N);
  const before = picks(make(), base);

  it.each([0, 3, 7])('removing backend #%i moves about 1/N of the keys, (almost) only its own', (index) => {
    const gone = base[index]!;
    const after = picks(
      make(),
      base.filter((b) => b !== gone),
    );
    let moved = 0;
    let own = 0;
    for (let i = 0; i < KEYS.length; i++) {
      if (after[i] === before[i]) continue;
      moved++;
      if (before[i] === gone.addr) own++;
    }
    expect(Math.abs(moved / KEYS.length - 1 / N)).toBeLessThan(tolerance / N);
    expect(own / moved).toBeGreaterThanOrEqual(ownShare);
    expect(after).not.toContain(gone.addr);
  });

  it('adding one backend moves about 1/(N+1) of the keys, (almost) all to the new one', () => {
    const added = list(1, 200)[0]!;
    const after = picks(make(), [...base, added]);
    let moved = 0;
    let toAdded = 0;
    for (let i = 0; i < KEYS.length; i++) {
      if (after[i] === before[i]) continue;
      moved++;
      if (after[i] === added.addr) toAdded++;
    }
    expect(Math.abs(moved / KEYS.length - 1 / (N + 1))).toBeLessThan(tolerance / (N + 1));
    expect(toAdded / moved).toBeGreaterThanOrEqual(ownShare);
  });
});

describe.each([
  // The share of other backends' keys that may move while one backend is down.
  ['FnvHash', () => new FnvHash(), 0],
  ['Ketama', () => new Ketama(), 0],
  ['Maglev', () => new Maglev({ tableSize: 1009 }), 0.05],
])('%s', (_name, make, othersMoved) => {
  it('maps a key to the same backend across rebuilds, and while a backend is down moves (about) only its keys', () => {
    const backends = list(5);
    const lb = LoadBalancer.fromBackends(backends, { selection: make() });
    const first = KEYS.slice(0, 2000).map((k) => lb.select(k, 1)!.addr);
    const again = LoadBalancer.fromBackends(list(5), { selection: make() });
    expect(KEYS.slice(0, 2000).map((k) => again.select(k, 1)!.addr)).toEqual(first);
    lb.backends().setHealth(backends[2]!, false);
    const down = KEYS.slice(0, 2000).map((k) => lb.select(k, 1)!.addr);
    expect(down).not.toContain(backends[2]!.addr);
    const others = first.map((a, i) => [a, down[i]]).filter(([a]) => a !== backends[2]!.addr);
    expect(others.filter(([a, b]) => a !== b).length).toBeLessThanOrEqual(Math.ceil(others.length * othersMoved));
    lb.backends().setHealth(backends[2]!, true);
    expect(KEYS.slice(0, 2000).map((k) => lb.select(k, 1)!.addr)).toEqual(first);
  });

  it('follows the weights', () => {
    const backends = [new Backend('10.0.0.1:80', 1), new Backend('10.0.0.2:80', 3)];
    const p = picks(make(), backends);
    const share = p.filter((a) => a === '10.0.0.2:80').length / p.length;
    expect(share).toBeGreaterThan(0.7);
    expect(share).toBeLessThan(0.8);
  });

  it('walks every backend once for retries, deterministically, and selectWith skips refused ones', () => {
    const backends = list(7);
    const s = make().build(backends);
    for (const key of KEYS.slice(0, 50)) {
      const it = s.iter(key);
      const order: Backend[] = [];
      for (let b = it.next(); b !== null; b = it.next()) order.push(b);
      expect(new Set(order).size).toBe(7);
      expect(order).toHaveLength(7);
      const again = s.iter(key);
      expect(order.map(() => again.next())).toEqual(order);
      const lb = LoadBalancer.fromBackends(backends, { selection: make() });
      expect(lb.selectWith(key, 10, (b) => b !== order[0] && b !== order[1])).toBe(order[2]);
    }
  });

  it('takes string and byte keys alike (UTF-8)', () => {
    const s = make().build(list(5));
    for (const key of ['', 'a', '/é/日本/😀', ...KEYS.slice(0, 100)]) {
      expect(s.iter(new TextEncoder().encode(key)).next()).toBe(s.iter(key).next());
    }
  });
});

describe('Ketama retries walk the ring as nginx does', () => {
  it('the second candidate is the owner of the next point of another backend', () => {
    // With two backends the retry is simply the other one.
    const [a, b] = list(2);
    const s = new Ketama().build([a!, b!]);
    for (const key of KEYS.slice(0, 100)) {
      const it = s.iter(key);
      const first = it.next();
      expect(it.next()).toBe(first === a ? b : a);
      expect(it.next()).toBeNull();
    }
  });
});

describe('Maglev', () => {
  it('rejects a table size that is not a prime', () => {
    expect(() => new Maglev({ tableSize: 65536 })).toThrow(/tableSize must be a prime/);
  });

  it('gives each backend a share of the table close to its weight', () => {
    const backends = [new Backend('10.0.0.1:80', 1), new Backend('10.0.0.2:80', 2), new Backend('10.0.0.3:80', 5)];
    const p = picks(new Maglev(), backends);
    const share = (addr: string) => p.filter((x) => x === addr).length / p.length;
    expect(share('10.0.0.1:80')).toBeCloseTo(1 / 8, 1);
    expect(share('10.0.0.2:80')).toBeCloseTo(2 / 8, 1);
    expect(share('10.0.0.3:80')).toBeCloseTo(5 / 8, 1);
  });

  it('grows the table to hold more backends than its size', () => {
    const backends = list(20);
    const s = new Maglev({ tableSize: 7 }).build(backends);
    const seen = new Set(KEYS.slice(0, 5000).map((k) => s.iter(k).next()));
    expect(seen.size).toBe(20);
  });
});

describe('Ketama rebuilds over a subset of its last list by filtering its ring', () => {
  /** The selector's ring, read for the comparison. */
  const ring = (s: unknown) => {
    const r = s as { hashes: Uint32Array; owners: Int32Array; backends: readonly Backend[] };
    return { hashes: Array.from(r.hashes), owners: Array.from(r.owners, (o) => r.backends[o]!.addr) };
  };

  it('gives the same ring as a fresh build, colliding points included', () => {
    // 2,000 backends of weights 1-3: about 640,000 points, so some 32-bit hashes repeat.
    const all = Array.from({ length: 2000 }, (_, i) => new Backend(`10.1.${i >> 8}.${i & 255}:80`, 1 + (i % 3)));
    const ketama = new Ketama();
    const full = ring(ketama.build(all));
    const distinct = full.hashes.length;
    expect(distinct).toBeLessThan(all.reduce((s, b) => s + b.weight * 160, 0)); // there were collisions
    for (const keep of [(i: number) => i % 2 === 0, (i: number) => i % 7 !== 3, (i: number) => i < 5]) {
      const subset = all.filter((_, i) => keep(i));
      expect(ring(ketama.build(subset))).toEqual(ring(new Ketama().build(subset)));
    }
    // The whole list again, and a list that is not a subset (reordered): still what a fresh build gives.
    expect(ring(ketama.build(all))).toEqual(full);
    const reordered = [all[1]!, all[0]!, ...all.slice(2, 50)];
    expect(ring(ketama.build(reordered))).toEqual(ring(new Ketama().build(reordered)));
  });
});
