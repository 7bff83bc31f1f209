import { LRUCache } from 'lru-cache';
import { MemoryCache, type EvictionReason } from '@pingora-ts/cache';
import { seeded as prng } from '../../../test-support/seeded';

/** A clock the test moves by hand. */
function fakeClock(start = 1_000): { now: () => number; advance: (ms: number) => void } {
  let t = start;
  return { now: () => t, advance: (ms) => (t += ms) };
}

describe('MemoryCache: get, set, delete, has, clear', () => {
  it('stores and returns values, counts hits and misses', () => {
    const c = new MemoryCache<string, number>({ maxEntries: 10 });
    expect(c.get('a')).toBeUndefined();
    expect(c.set('a', 1)).toBe(true);
    expect(c.get('a')).toBe(1);
    expect(c.has('a')).toBe(true);
    expect(c.has('b')).toBe(false);
    expect(c.set('a', 2)).toBe(true);
    expect(c.get('a')).toBe(2);
    expect(c.size).toBe(1);
    expect(c.delete('a')).toBe(true);
    expect(c.delete('a')).toBe(false);
    expect(c.get('a')).toBeUndefined();
    expect(c.stats()).toEqual({ hits: 2, misses: 2, evictions: 0, admissionRejected: 0, expirations: 0, entries: 0, bytes: 0 });
  });

  it('clear removes everything and keeps the counters', () => {
    const c = new MemoryCache<number, string>({ maxEntries: 100 });
    for (let i = 0; i < 50; i++) c.set(i, `v${i}`);
    c.get(1);
    c.clear();
    expect(c.size).toBe(0);
    expect(c.get(1)).toBeUndefined();
    expect(c.stats()).toMatchObject({ hits: 1, misses: 1, entries: 0 });
    c.set(1, 'again');
    expect(c.get(1)).toBe('again');
  });

  it('takes objects as keys by identity, and any other key type', () => {
    const c = new MemoryCache<unknown, number>({ maxEntries: 10 });
    const k1 = { id: 1 };
    c.set(k1, 1);
    c.set({ id: 1 }, 2);
    c.set(1.5, 3);
    c.set(10n, 4);
    c.set(true, 5);
    expect(c.get(k1)).toBe(1);
    expect(c.get(1.5)).toBe(3);
    expect(c.get(10n)).toBe(4);
    expect(c.get(true)).toBe(5);
  });
});

describe('MemoryCache: TTL', () => {
  it('never returns an expired entry (per-entry TTL and the default)', () => {
    const clock = fakeClock();
    const c = new MemoryCache<string, string>({ maxEntries: 10, ttlMs: 1_000, now: clock.now });
    c.set('default', 'd');
    c.set('short', 's', { ttlMs: 100 });
    c.set('forever', 'f', { ttlMs: Infinity });
    clock.advance(99);
    expect(c.get('short')).toBe('s');
    clock.advance(1);
    expect(c.get('short')).toBeUndefined();
    expect(c.has('default')).toBe(true);
    clock.advance(900);
    expect(c.has('default')).toBe(false);
    expect(c.get('default')).toBeUndefined();
    clock.advance(1e9);
    expect(c.get('forever')).toBe('f');
    expect(c.stats()).toMatchObject({ expirations: 2, entries: 1 });
  });

  it('a TTL of 0 stores nothing and removes an older value', () => {
    const c = new MemoryCache<string, number>({ maxEntries: 10 });
    c.set('a', 1);
    expect(c.set('a', 2, { ttlMs: 0 })).toBe(false);
    expect(c.get('a')).toBeUndefined();
  });

  it('an update renews the TTL', () => {
    const clock = fakeClock();
    const c = new MemoryCache<string, number>({ maxEntries: 10, ttlMs: 100, now: clock.now });
    c.set('a', 1);
    clock.advance(80);
    c.set('a', 2);
    clock.advance(80);
    expect(c.get('a')).toBe(2);
  });

  it('expired entries leave first when room is needed, without counting as evictions', () => {
    const clock = fakeClock();
    const c = new MemoryCache<number, number>({ maxEntries: 100, now: clock.now });
    for (let i = 0; i < 100; i++) c.set(i, i, { ttlMs: 10 });
    for (let i = 0; i < 100; i++) c.get(i);
    clock.advance(10);
    for (let i = 100; i < 200; i++) c.set(i, i);
    const s = c.stats();
    expect(s.entries).toBeLessThanOrEqual(100);
    expect(s.expirations).toBeGreaterThan(0);
    for (let i = 0; i < 100; i++) expect(c.get(i)).toBeUndefined();
  });
});

describe('MemoryCache: bounds', () => {
  it('holds at most maxEntries, and counts what it evicted', () => {
    const c = new MemoryCache<number, number>({ maxEntries: 100 });
    for (let i = 0; i < 1_000; i++) {
      c.set(i, i);
      expect(c.size).toBeLessThanOrEqual(100);
    }
    const s = c.stats();
    expect(s.entries).toBe(100);
    expect(s.evictions).toBe(900);
    expect(s.admissionRejected).toBeLessThanOrEqual(s.evictions);
  });

  it('holds at most maxBytes as sizeOf counts them', () => {
    const c = new MemoryCache<number, string>({ maxBytes: 10_000, sizeOf: (v) => v.length });
    let stored = 0;
    for (let i = 0; i < 1_000; i++) {
      const v = 'x'.repeat(10 + (i % 200));
      stored += v.length;
      c.set(i, v);
      expect(c.bytes).toBeLessThanOrEqual(10_000);
    }
    const s = c.stats();
    expect(s.bytes).toBe(c.bytes);
    expect(s.evictions).toBe(1_000 - s.entries);
    expect(stored).toBeGreaterThan(10_000);
  });

  it('applies both bounds at once', () => {
    const c = new MemoryCache<number, string>({ maxEntries: 50, maxBytes: 1_000, sizeOf: (v) => v.length });
    for (let i = 0; i < 200; i++) c.set(i, i % 2 ? 'x' : 'x'.repeat(100));
    expect(c.size).toBeLessThanOrEqual(50);
    expect(c.bytes).toBeLessThanOrEqual(1_000);
  });

  it('an update that grows an entry keeps the byte bound', () => {
    const c = new MemoryCache<number, string>({ maxBytes: 1_000, sizeOf: (v) => v.length });
    for (let i = 0; i < 20; i++) c.set(i, 'x'.repeat(40));
    for (let i = 0; i < 20; i++) c.get(i);
    for (let i = 0; i < 20; i++) c.set(i, 'x'.repeat(200));
    expect(c.bytes).toBeLessThanOrEqual(1_000);
  });

  it('does not store what it cannot size or what is larger than maxBytes (and drops the old value)', () => {
    const c = new MemoryCache<string, string>({
      maxBytes: 100,
      sizeOf: (v) => {
        if (v === 'throws') throw new Error('no size');
        return v === 'nan' ? NaN : v.length;
      },
    });
    c.set('a', 'ok');
    expect(c.set('a', 'x'.repeat(101))).toBe(false);
    expect(c.get('a')).toBeUndefined();
    expect(c.set('b', 'throws')).toBe(false);
    expect(c.set('c', 'nan')).toBe(false);
    expect(c.size).toBe(0);
  });

  it('a cache of one entry keeps the latest', () => {
    const c = new MemoryCache<string, number>({ maxEntries: 1 });
    c.set('a', 1);
    c.set('b', 2);
    expect(c.get('b')).toBe(2);
    expect(c.size).toBe(1);
  });

  it('tells onEvict why each entry left', () => {
    const clock = fakeClock();
    const seen = new Map<EvictionReason, number>();
    const c = new MemoryCache<number, number>({
      maxEntries: 10,
      now: clock.now,
      onEvict: (_k, _v, reason) => {
        seen.set(reason, (seen.get(reason) ?? 0) + 1);
        throw new Error('a listener fault is ignored');
      },
    });
    c.set(0, 0, { ttlMs: 5 });
    clock.advance(5);
    c.get(0);
    c.set(1, 1);
    c.set(1, 2);
    c.delete(1);
    for (let i = 0; i < 30; i++) c.set(i, i);
    expect(seen.get('expired')).toBe(1);
    expect(seen.get('replaced')).toBe(1);
    expect(seen.get('deleted')).toBe(1);
    expect((seen.get('evicted') ?? 0) + (seen.get('rejected') ?? 0)).toBe(20);
  });
});

describe('MemoryCache: admission', () => {
  it('a scan of one-time keys does not flush the hot set (lru-cache loses it)', () => {
    const mem = new MemoryCache<string, number>({ maxEntries: 1_000 });
    const lru = new LRUCache<string, number>({ max: 1_000 });
    const rand = prng(1);
    const hot = Array.from({ length: 500 }, (_, i) => `hot/${i}`);
    const run = (n: number, scanEvery: number, scanStart: number): { mem: number; lru: number; reads: number } => {
      let memHits = 0;
      let lruHits = 0;
      let reads = 0;
      let scan = scanStart;
      for (let i = 0; i < n; i++) {
        // Between hot reads, a stream of keys each seen once (a crawler, a batch job).
        for (let j = 0; j < scanEvery; j++) {
          const k = `scan/${scan++}`;
          if (mem.get(k) === undefined) mem.set(k, 0);
          if (lru.get(k) === undefined) lru.set(k, 0);
        }
        const k = hot[Math.floor(rand() * hot.length)]!;
        reads++;
        if (mem.get(k) !== undefined) memHits++;
        else mem.set(k, 1);
        if (lru.get(k) !== undefined) lruHits++;
        else lru.set(k, 1);
      }
      return { mem: memHits / reads, lru: lruHits / reads, reads };
    };
    run(5_000, 0, 0); // warm: the hot set only
    const during = run(10_000, 3, 0); // 3 one-time keys per hot read: 30,000 scan keys in all
    expect(during.mem).toBeGreaterThan(0.9);
    expect(during.lru).toBeLessThan(0.5);
    expect(mem.stats().admissionRejected).toBeGreaterThan(25_000);
  });

  it('beats lru-cache on a skewed (Zipf 1.0) trace', () => {
    const n = 10_000;
    const cdf = new Float64Array(n);
    let sum = 0;
    for (let i = 0; i < n; i++) cdf[i] = sum += 1 / (i + 1);
    const rand = prng(2);
    const mem = new MemoryCache<number, number>({ maxEntries: 100 });
    const lru = new LRUCache<number, number>({ max: 100 });
    let memHits = 0;
    let lruHits = 0;
    for (let r = 0; r < 100_000; r++) {
      const u = rand() * sum;
      let lo = 0;
      let hi = n - 1;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (cdf[mid]! < u) lo = mid + 1;
        else hi = mid;
      }
      if (mem.get(lo) !== undefined) memHits++;
      else mem.set(lo, 1);
      if (lru.get(lo) !== undefined) lruHits++;
      else lru.set(lo, 1);
    }
    expect(memHits).toBeGreaterThan(lruHits * 1.2);
    const s = mem.stats();
    expect(s.hits).toBe(memHits);
    expect(s.misses).toBe(100_000 - memHits);
  });

  it('a large new entry competes at once: set says whether it got in', () => {
    const c = new MemoryCache<string, string>({ maxBytes: 1_000, sizeOf: (v) => v.length });
    for (let i = 0; i < 10; i++) c.set(`small/${i}`, 'x'.repeat(90));
    for (let round = 0; round < 2; round++) for (let i = 0; i < 10; i++) expect(c.get(`small/${i}`)).toBeDefined();
    expect(c.set('big', 'x'.repeat(500))).toBe(false);
    expect(c.stats().admissionRejected).toBe(1);
    for (let i = 0; i < 5; i++) expect(c.get('big')).toBeUndefined();
    expect(c.set('big', 'x'.repeat(500))).toBe(true);
    expect(c.get('big')).toHaveLength(500);
    expect(c.bytes).toBeLessThanOrEqual(1_000);
  });

  it('lets a new key in once it is seen more often than the victim', () => {
    const c = new MemoryCache<string, number>({ maxEntries: 100 });
    for (let i = 0; i < 100; i++) c.set(`old/${i}`, i);
    // A newcomer read many times wins its place even though the cache is full.
    for (let round = 0; round < 5; round++) {
      if (c.get('new') === undefined) c.set('new', 1);
      for (let i = 0; i < 100; i++) c.set(`filler/${round}/${i}`, i);
    }
    expect(c.get('new')).toBe(1);
  });
});

describe('MemoryCache: bad options', () => {
  it('names the option', () => {
    expect(() => new MemoryCache({})).toThrow(/maxEntries or maxBytes/);
    expect(() => new MemoryCache({ maxEntries: 0 })).toThrow(/maxEntries must be/);
    expect(() => new MemoryCache({ maxEntries: 2.5 })).toThrow(/maxEntries must be an integer/);
    expect(() => new MemoryCache({ maxBytes: 100 })).toThrow(/sizeOf must be a function when maxBytes/);
    expect(() => new MemoryCache({ maxEntries: 10, ttlMs: -1 })).toThrow(/ttlMs must be/);
    expect(() => new MemoryCache({ maxEntries: 10, windowRatio: 2 })).toThrow(/windowRatio/);
    const c = new MemoryCache<string, number>({ maxEntries: 10 });
    expect(() => c.set('a', 1, { ttlMs: NaN })).toThrow(/ttlMs must be a number of milliseconds >= 0 \(or Infinity\) \(got NaN\)/);
  });
});
