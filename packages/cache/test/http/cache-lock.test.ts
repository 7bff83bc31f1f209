import type { BodyReader, CacheKey } from '../../src/http';
import { CacheLock, keyString, MemoryHttpStorage } from '../../src/http';
import { metaOf, res } from './fixtures';

const META = metaOf(res(['Cache-Control', 'max-age=60']));
const KEY: CacheKey = { primary: 'https://example.com/slow', variance: null };
const BODY = ['first ', 'second ', 'third'];

async function readAll(body: BodyReader): Promise<string> {
  const parts: Buffer[] = [];
  for await (const c of body) parts.push(c);
  return Buffer.concat(parts).toString();
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

/**
 * A slow origin that counts requests: each response's head comes when `gate` opens, then its
 * chunks one event-loop turn apart; `failMidBody` makes it fail after the first chunk.
 */
class SlowOrigin {
  requests = 0;
  failMidBody = false;
  failBeforeHead = false;
  constructor(readonly gate: Promise<void>) {}
  async *fetch(): AsyncGenerator<Buffer> {
    this.requests++;
    await this.gate;
    if (this.failBeforeHead) {
      this.failBeforeHead = false; // only the first request fails
      throw new Error('connect refused');
    }
    for (const [i, c] of BODY.entries()) {
      await new Promise((r) => setImmediate(r));
      if (this.failMidBody && i === 1) throw new Error('origin reset');
      yield Buffer.from(c);
    }
  }
}

/** What the proxy's cache phases will do for one request (lookup, lock, fill or wait), minus the sockets. */
async function serve(storage: MemoryHttpStorage, lock: CacheLock, origin: SlowOrigin): Promise<{ body: string; from: 'fill' | 'cache' | 'origin' }> {
  for (let round = 0; round < 3; round++) {
    const hit = await storage.get(KEY);
    if (hit !== null) return { body: await readAll(hit.body), from: 'cache' };
    const locked = lock.lock(keyString(KEY));
    if (locked.role === 'reader') {
      const status = await locked.wait();
      if (status === 'done' || status === 'transient-error') continue; // look up again (and compete again)
      break; // give-up, timeout: on our own
    }
    const { permit } = locked;
    const chunks: Buffer[] = [];
    let writer = null;
    try {
      for await (const chunk of origin.fetch()) {
        if (writer === null) {
          // Head arrived: start the fill and let the waiters join it while it streams.
          writer = await storage.put(KEY, META);
          permit.release('done');
        }
        chunks.push(chunk);
        await writer?.write(chunk);
      }
      await writer?.finish();
      return { body: Buffer.concat(chunks).toString(), from: 'fill' };
    } catch (e) {
      writer?.abort();
      permit.release('transient-error');
      throw e;
    }
  }
  const chunks: Buffer[] = [];
  for await (const chunk of origin.fetch()) chunks.push(chunk);
  return { body: Buffer.concat(chunks).toString(), from: 'origin' };
}

describe('CacheLock', () => {
  it('turns 100 concurrent misses into one fill; the 99 others are served from it', async () => {
    const storage = new MemoryHttpStorage();
    const lock = new CacheLock({ lockTimeoutMs: 30_000 });
    const gate = deferred();
    const origin = new SlowOrigin(gate.promise);
    const all = Promise.all(Array.from({ length: 100 }, () => serve(storage, lock, origin)));
    await new Promise((r) => setImmediate(r));
    expect(lock.waiters(keyString(KEY))).toBe(99);
    gate.resolve();
    const results = await all;
    expect(origin.requests).toBe(1);
    expect(results.every((r) => r.body === BODY.join(''))).toBe(true);
    expect(results.filter((r) => r.from === 'fill')).toHaveLength(1);
    expect(results.filter((r) => r.from === 'cache')).toHaveLength(99);
    expect(lock.size).toBe(0);
  });

  it('after lockTimeoutMs the waiters go to the origin on their own, and all succeed', async () => {
    const storage = new MemoryHttpStorage();
    const lock = new CacheLock({ lockTimeoutMs: 20 });
    const gate = deferred();
    const origin = new SlowOrigin(gate.promise);
    const all = Promise.all(Array.from({ length: 100 }, () => serve(storage, lock, origin)));
    // Every waiter times out while the origin is still held back, then asks it itself.
    while (origin.requests < 100) await new Promise((r) => setTimeout(r, 5));
    expect(lock.size).toBe(0);
    gate.resolve();
    const results = await all;
    expect(origin.requests).toBe(100);
    expect(results.every((r) => r.body === BODY.join(''))).toBe(true);
    expect(results.filter((r) => r.from === 'origin')).toHaveLength(99);
  });

  it('releases the waiters when the holder fails before the head: they compete again, one fills', async () => {
    const storage = new MemoryHttpStorage();
    const lock = new CacheLock({ lockTimeoutMs: 30_000 });
    const gate = deferred();
    const origin = new SlowOrigin(gate.promise);
    origin.failBeforeHead = true;
    const first = serve(storage, lock, origin);
    await new Promise((r) => setImmediate(r));
    const others = Array.from({ length: 10 }, () => serve(storage, lock, origin));
    await new Promise((r) => setImmediate(r));
    gate.resolve();
    await expect(first).rejects.toThrow('connect refused');
    const results = await Promise.all(others);
    expect(origin.requests).toBe(2);
    expect(results.every((r) => r.body === BODY.join(''))).toBe(true);
    expect(lock.size).toBe(0);
  });

  it('a fill that fails mid-body is never served truncated: joined readers fail, the next request fills again', async () => {
    const storage = new MemoryHttpStorage();
    const lock = new CacheLock({ lockTimeoutMs: 30_000 });
    const gate = deferred();
    const origin = new SlowOrigin(gate.promise);
    origin.failMidBody = true;
    const first = serve(storage, lock, origin);
    await new Promise((r) => setImmediate(r));
    const others = Array.from({ length: 10 }, () => serve(storage, lock, origin));
    await new Promise((r) => setImmediate(r));
    gate.resolve();
    await expect(first).rejects.toThrow('origin reset');
    for (const r of await Promise.allSettled(others)) {
      // Each waiter either joined the fill (and fails with it) or had not yet: never a short body.
      if (r.status === 'fulfilled') expect(r.value.body).toBe(BODY.join(''));
      else expect(String(r.reason)).toMatch(/aborted|origin reset/);
    }
    expect(await storage.get(KEY)).toBeNull();
    origin.failMidBody = false;
    expect((await serve(storage, lock, origin)).body).toBe(BODY.join(''));
    expect((await storage.get(KEY))!.size).toBe(BODY.join('').length);
    expect(lock.size).toBe(0);
  });

  it('hands out one writer per key, readers for the rest, and a new writer once released', async () => {
    const lock = new CacheLock();
    const a = lock.lock('a');
    expect(a.role).toBe('writer');
    expect(lock.lock('b').role).toBe('writer');
    const r = lock.lock('a');
    expect(r.role).toBe('reader');
    if (a.role !== 'writer' || r.role !== 'reader') throw new Error('unreachable');
    const status = r.wait();
    a.permit.release('give-up');
    expect(await status).toBe('give-up');
    expect(await r.wait()).toBe('give-up');
    a.permit.release('done'); // idempotent
    expect(a.permit.held).toBe(false);
    expect(lock.lock('a').role).toBe('writer');
  });

  it('a timed-out holder that releases late does not free the next holder\'s lock', async () => {
    const lock = new CacheLock({ lockTimeoutMs: 10 });
    const first = lock.lock('k');
    if (first.role !== 'writer') throw new Error('unreachable');
    const waiter = lock.lock('k');
    if (waiter.role !== 'reader') throw new Error('unreachable');
    expect(await waiter.wait()).toBe('timeout');
    const second = lock.lock('k');
    expect(second.role).toBe('writer');
    first.permit.release('done');
    expect(lock.lock('k').role).toBe('reader');
    if (second.role === 'writer') second.permit.release('done');
    expect(lock.size).toBe(0);
  });

  it('rejects a bad lockTimeoutMs with the option named', () => {
    expect(() => new CacheLock({ lockTimeoutMs: 0 })).toThrow(/"lockTimeoutMs"/);
  });
});
