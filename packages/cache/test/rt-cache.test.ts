import { RTCache, withTtl } from '@pingora-ts/cache';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A promise the test settles by hand. */
function deferred<T>(): { promise: Promise<T>; resolve: (v: T) => void; reject: (e: unknown) => void } {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

function fakeClock(start = 1_000): { now: () => number; advance: (ms: number) => void } {
  let t = start;
  return { now: () => t, advance: (ms) => (t += ms) };
}

describe('RTCache: one lookup for concurrent misses', () => {
  it('100 concurrent gets of one key run 1 lookup; later gets hit', async () => {
    const cache = new RTCache<string, string>({ maxEntries: 100 });
    let lookups = 0;
    const gate = deferred<void>();
    const lookup = async (key: string): Promise<string> => {
      lookups++;
      await gate.promise;
      return `value of ${key}`;
    };
    const all = Promise.all(Array.from({ length: 100 }, () => cache.get('k', lookup)));
    gate.resolve();
    const values = await all;
    expect(lookups).toBe(1);
    expect(new Set(values)).toEqual(new Set(['value of k']));
    expect(await cache.get('k', lookup)).toBe('value of k');
    expect(lookups).toBe(1);
    expect(cache.stats()).toMatchObject({ misses: 100, lockHits: 99, lookups: 1, hits: 1 });
  });

  it('lock timeout: the waiters give up and each looks up itself; all succeed', async () => {
    const cache = new RTCache<string, number>({ maxEntries: 100, lockTimeoutMs: 20 });
    let lookups = 0;
    const slow = deferred<void>();
    const lookup = async (): Promise<number> => {
      const n = ++lookups;
      if (n === 1) await slow.promise; // the lock holder is stuck until released
      return n;
    };
    const all = Promise.all(Array.from({ length: 10 }, () => cache.get('k', lookup)));
    await sleep(60);
    slow.resolve();
    const values = await all;
    expect(lookups).toBe(10);
    expect(values[0]).toBe(1);
    expect(values.slice(1).sort((a, b) => a - b)).toEqual([2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(cache.stats()).toMatchObject({ lockTimeouts: 9, lookups: 10 });
    // Only the lock holder stored its value.
    expect(await cache.get('k', lookup)).toBe(1);
  });

  it('max lock age: a stuck lookup is taken over, and its late result does not free the new lock', async () => {
    const clock = fakeClock();
    const cache = new RTCache<string, string>({ maxEntries: 100, maxLockAgeMs: 1_000, now: clock.now });
    const stuck = deferred<string>();
    const fresh = deferred<string>();
    let lookups = 0;
    const first = cache.get('k', () => (++lookups, stuck.promise));
    clock.advance(1_001);
    const second = cache.get('k', () => (++lookups, fresh.promise));
    const third = cache.get('k', () => (++lookups, Promise.resolve('third')));
    stuck.resolve('stuck');
    expect(await first).toBe('stuck');
    fresh.resolve('fresh');
    expect(await second).toBe('fresh');
    expect(await third).toBe('fresh');
    expect(lookups).toBe(2);
    expect(cache.stats()).toMatchObject({ lockTakeovers: 1, lockHits: 1 });
  });

  it('max lock age also bounds the waiters already waiting (real clock)', async () => {
    const cache = new RTCache<string, string>({ maxEntries: 100, maxLockAgeMs: 30 });
    const never = new Promise<string>(() => undefined);
    void cache.get('k', () => never);
    const waiter = cache.get('k', () => Promise.resolve('own'));
    expect(await waiter).toBe('own');
    expect(cache.stats().lockTakeovers).toBe(1);
  });
});

describe('RTCache: errors', () => {
  it('errors are not cached by default, and the concurrent waiters share the error', async () => {
    const cache = new RTCache<string, string>({ maxEntries: 10 });
    let calls = 0;
    const failing = async (): Promise<string> => {
      calls++;
      await sleep(5);
      throw new Error('origin down');
    };
    const results = await Promise.allSettled([cache.get('k', failing), cache.get('k', failing), cache.get('k', failing)]);
    expect(results.every((r) => r.status === 'rejected' && /origin down/.test(String(r.reason)))).toBe(true);
    expect(calls).toBe(1);
    await expect(cache.get('k', failing)).rejects.toThrow('origin down');
    expect(calls).toBe(2);
    expect(await cache.get('k', () => 'ok')).toBe('ok');
    expect(cache.stats().lookupErrors).toBe(2);
  });

  it('errorTtlMs caches a failure for that long', async () => {
    const clock = fakeClock();
    const cache = new RTCache<string, string>({ maxEntries: 10, errorTtlMs: 500, now: clock.now });
    let calls = 0;
    const failing = (): string => {
      calls++;
      throw new Error('synchronous failure');
    };
    await expect(cache.get('k', failing)).rejects.toThrow('synchronous failure');
    clock.advance(499);
    await expect(cache.get('k', failing)).rejects.toThrow('synchronous failure');
    expect(calls).toBe(1);
    clock.advance(1);
    expect(await cache.get('k', () => 'recovered')).toBe('recovered');
    expect(cache.stats()).toMatchObject({ errorHits: 1, lookupErrors: 1 });
  });
});

describe('RTCache: TTL and refresh-ahead', () => {
  it('the lookup sets the TTL with withTtl; the get option and the default otherwise', async () => {
    const clock = fakeClock();
    const cache = new RTCache<string, number>({ maxEntries: 10, ttlMs: 1_000, now: clock.now });
    let n = 0;
    const lookup = (): number => ++n;
    expect(await cache.get('default', lookup)).toBe(1);
    expect(await cache.get('own', () => withTtl(100, 50))).toBe(100);
    expect(await cache.get('opt', lookup, { ttlMs: 10 })).toBe(2);
    expect(await cache.get('zero', () => withTtl(7, 0))).toBe(7);
    expect(await cache.get('bad ttl', () => withTtl(5, NaN))).toBe(5); // returned, not cached
    expect(await cache.get('bad ttl', () => 6)).toBe(6);
    clock.advance(10);
    expect(await cache.get('opt', lookup)).toBe(3);
    expect(await cache.get('own', () => 0)).toBe(100);
    expect(await cache.get('zero', () => 8)).toBe(8);
    clock.advance(40);
    expect(await cache.get('own', () => 0)).toBe(0);
    clock.advance(950);
    expect(await cache.get('default', lookup)).toBe(4);
  });

  it('serves the stale value while exactly one background lookup refreshes it, then the fresh one', async () => {
    const clock = fakeClock();
    const cache = new RTCache<string, string>({ maxEntries: 10, ttlMs: 100, staleWhileRevalidateMs: 1_000, now: clock.now });
    expect(await cache.get('k', () => 'v1')).toBe('v1');
    clock.advance(150);
    let lookups = 0;
    const refresh = deferred<string>();
    const lookup = (): Promise<string> => (lookups++, refresh.promise);
    const stale = await Promise.all(Array.from({ length: 20 }, () => cache.get('k', lookup)));
    expect(new Set(stale)).toEqual(new Set(['v1']));
    expect(lookups).toBe(1);
    refresh.resolve('v2');
    await sleep(0);
    expect(await cache.get('k', lookup)).toBe('v2');
    expect(lookups).toBe(1);
    expect(cache.stats()).toMatchObject({ staleHits: 20, refreshes: 1 });
    // Past the stale window the value is gone: a plain miss.
    clock.advance(100 + 1_000);
    expect(await cache.get('k', () => 'v3')).toBe('v3');
  });

  it('a failed refresh keeps serving the stale value', async () => {
    const clock = fakeClock();
    const cache = new RTCache<string, string>({ maxEntries: 10, ttlMs: 100, staleWhileRevalidateMs: 1_000, errorTtlMs: 500, now: clock.now });
    await cache.get('k', () => 'v1');
    clock.advance(150);
    expect(await cache.get('k', () => Promise.reject(new Error('down')))).toBe('v1');
    await sleep(0);
    expect(await cache.get('k', () => 'v2')).toBe('v1');
    await sleep(0);
    expect(await cache.get('k', () => 'v3')).toBe('v2');
  });
});

describe('RTCache: bounds and faults', () => {
  it('bounds by bytes through sizeOf; a value sizeOf cannot size is returned, not cached', async () => {
    const cache = new RTCache<string, string>({
      maxBytes: 1_000,
      sizeOf: (v) => {
        if (v === 'unsizable') throw new Error('sizeOf failed');
        return v.length;
      },
    });
    for (let i = 0; i < 50; i++) await cache.get(`k${i}`, () => 'x'.repeat(100));
    expect(cache.stats().cache.bytes).toBeLessThanOrEqual(1_000);
    let lookups = 0;
    const odd = (): string => (lookups++, 'unsizable');
    expect(await cache.get('odd', odd)).toBe('unsizable');
    expect(await cache.get('odd', odd)).toBe('unsizable');
    expect(lookups).toBe(2);
  });
});

describe('RTCache: bad options', () => {
  it('names the option', async () => {
    expect(() => new RTCache({ maxEntries: 10, lockTimeoutMs: 0 })).toThrow(/lockTimeoutMs/);
    expect(() => new RTCache({ maxEntries: 10, maxLockAgeMs: -5 })).toThrow(/maxLockAgeMs/);
    expect(() => new RTCache({ maxEntries: 10, errorTtlMs: NaN })).toThrow(/errorTtlMs/);
    expect(() => new RTCache({ maxEntries: 10, staleWhileRevalidateMs: -1 })).toThrow(/staleWhileRevalidateMs/);
    const cache = new RTCache<string, number>({ maxEntries: 10 });
    await expect(cache.get('k', () => 1, { ttlMs: -1 })).rejects.toThrow(/ttlMs must be/);
  });
});
