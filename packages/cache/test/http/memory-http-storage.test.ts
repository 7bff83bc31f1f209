import type { BodyReader, CacheKey, HttpCacheStorage } from '../../src/http';
import { lookupVariant, MemoryHttpStorage } from '../../src/http';
import { metaOf, res } from './fixtures';

const META = metaOf(res(['Cache-Control', 'max-age=60']));
const key = (primary = 'https://example.com/a', variance: string | null = null): CacheKey => ({ primary, variance });

async function readAll(body: BodyReader): Promise<string> {
  const parts: Buffer[] = [];
  for await (const c of body) parts.push(c);
  return Buffer.concat(parts).toString();
}

async function store(s: MemoryHttpStorage, k: CacheKey, body: string, meta = META): Promise<boolean> {
  const w = await s.put(k, meta);
  if (w === null) return false;
  await w.write(Buffer.from(body));
  return w.finish();
}

describe('MemoryHttpStorage', () => {
  it('stores a body and serves it, with its size and the primary entry', async () => {
    const s = new MemoryHttpStorage();
    expect(await s.lookup('https://example.com/a')).toBeNull();
    expect(await store(s, key(), 'hello')).toBe(true);
    expect(await s.lookup('https://example.com/a')).toEqual({ vary: [], variants: 1 });
    const hit = (await s.get(key()))!;
    expect(hit.size).toBe(5);
    expect(await readAll(hit.body)).toBe('hello');
    expect(await s.get(key('https://example.com/other'))).toBeNull();
  });

  it('keeps several variants of one URL side by side, selected by the request', async () => {
    const s = new MemoryHttpStorage();
    const varied = metaOf(res(['Cache-Control', 'max-age=60', 'Vary', 'Accept-Encoding']));
    const p = 'https://example.com/v';
    for (const [enc, body] of [['gzip', 'zipped'], ['br', 'brotli'], [null, 'plain']] as const) {
      const headers = enc === null ? [] : ['Accept-Encoding', enc];
      const { key: k, hit } = await lookupVariant(s, p, headers);
      expect(hit).toBeNull();
      // The first fill has no variance yet (nothing stored said Vary): the proxy computes it from the response.
      const vk = { primary: p, variance: enc === null ? 'accept-encoding\n' : `accept-encoding=${enc}\n` };
      expect(k.primary).toBe(p);
      expect(await store(s, vk, body, varied)).toBe(true);
    }
    expect((await s.lookup(p))!.variants).toBe(3);
    for (const [headers, body] of [[['Accept-Encoding', 'GZIP'], 'zipped'], [['accept-encoding', ' br'], 'brotli'], [[], 'plain']] as const) {
      const { hit } = await lookupVariant(s, p, headers);
      expect(await readAll(hit!.body)).toBe(body);
    }
    expect((await lookupVariant(s, p, ['Accept-Encoding', 'deflate'])).hit).toBeNull();
  });

  it('lets readers join a fill in progress: what was written, then the rest as it arrives', async () => {
    const s = new MemoryHttpStorage();
    const w = (await s.put(key(), META))!;
    await w.write(Buffer.from('ab'));
    const early = (await s.get(key()))!;
    expect(early.size).toBeNull();
    const earlyBody = readAll(early.body);
    await w.write(Buffer.from('cd'));
    const late = readAll((await s.get(key()))!.body);
    await w.write(Buffer.from('ef'));
    expect(await w.finish()).toBe(true);
    expect(await earlyBody).toBe('abcdef');
    expect(await late).toBe('abcdef');
  });

  it('keeps filling when a reader goes away', async () => {
    const s = new MemoryHttpStorage();
    const w = (await s.put(key(), META))!;
    await w.write(Buffer.from('ab'));
    const leaving = (await s.get(key()))!.body;
    expect((await leaving.read())!.toString()).toBe('ab');
    leaving.close();
    expect(await leaving.read()).toBeNull();
    await w.write(Buffer.from('cd'));
    expect(await w.finish()).toBe(true);
    expect(await readAll((await s.get(key()))!.body)).toBe('abcd');
  });

  it('discards an aborted fill: joined readers get an error, never a truncated body; the older copy stays', async () => {
    const s = new MemoryHttpStorage();
    await store(s, key(), 'old');
    const w = (await s.put(key(), META))!;
    await w.write(Buffer.from('new-but-'));
    const joined = readAll((await s.get(key()))!.body);
    w.abort();
    await expect(joined).rejects.toThrow(/aborted/);
    expect(await w.finish()).toBe(false);
    expect(await readAll((await s.get(key()))!.body)).toBe('old');

    const s2 = new MemoryHttpStorage();
    const w2 = (await s2.put(key(), META))!;
    await w2.write(Buffer.from('x'));
    w2.abort();
    expect(await s2.get(key())).toBeNull();
    expect(await s2.lookup(key().primary)).toBeNull();
    expect(s2.sizeBytes).toBe(0);
  });

  it('a dropped fill that is still read holds at most ~1 MiB its slowest reader has not read: writes wait for it', async () => {
    const s = new MemoryHttpStorage({ maxSizeBytes: 1 << 20, maxObjectBytes: 64 * 1024 });
    const w = (await s.put(key(), META))!;
    const reader = (await s.get(key()))!.body;
    const chunk = Buffer.alloc(64 * 1024, 'x');
    // Past maxObjectBytes the fill is dropped; the reader has read nothing, so ~1 MiB later a write waits.
    let written = 0;
    let waiting: Promise<boolean> | null = null;
    for (let i = 0; i < 64 && waiting === null; i++) {
      const r = w.write(chunk);
      written += chunk.length;
      let settled = false;
      void r.then(() => (settled = true));
      await Promise.resolve();
      await Promise.resolve();
      if (!settled) waiting = r;
    }
    expect(waiting).not.toBeNull();
    expect(written).toBeGreaterThan(1 << 20);
    expect(written).toBeLessThanOrEqual((1 << 20) + 2 * chunk.length);
    // Reading lets the writer go on; the reader gets every byte, in order, and the end.
    let read = 0;
    const reading = (async () => {
      for await (const c of reader) read += c.length;
    })();
    expect(await waiting).toBe(false);
    for (let i = 0; i < 32; i++) await w.write(chunk);
    written += 32 * chunk.length;
    await w.finish();
    await reading;
    expect(read).toBe(written);
    expect(s.sizeBytes).toBe(0);
  });

  it('a hidden fill (a background refresh) is not handed out until finished: readers keep the complete copy', async () => {
    const s = new MemoryHttpStorage();
    await store(s, key(), 'old');
    const w = (await s.put(key(), META, null, { hidden: true }))!;
    await w.write(Buffer.from('new'));
    expect(await readAll((await s.get(key()))!.body)).toBe('old');
    await w.finish();
    expect(await readAll((await s.get(key()))!.body)).toBe('new');
  });

  it('a writer is no longer needed once its fill is neither stored nor read', async () => {
    const s = new MemoryHttpStorage({ maxSizeBytes: 1000, maxObjectBytes: 10 });
    const w = (await s.put(key(), META))!;
    expect(w.needed?.()).toBe(true);
    const reader = (await s.get(key()))!.body;
    await w.write(Buffer.from('0123456789abc')); // past maxObjectBytes: dropped from the store
    expect(w.needed?.()).toBe(true); // still read
    reader.close();
    expect(w.needed?.()).toBe(false);
  });

  it('passes objects above maxObjectBytes through uncached; readers already joined still get all of it', async () => {
    const s = new MemoryHttpStorage({ maxSizeBytes: 10_000, maxObjectBytes: 10 });
    expect(await s.put(key(), META, 11)).toBeNull();
    const w = (await s.put(key(), META))!;
    expect(await w.write(Buffer.from('12345'))).toBe(true);
    const joined = readAll((await s.get(key()))!.body);
    expect(await w.write(Buffer.from('678901'))).toBe(false);
    expect(await s.get(key())).toBeNull();
    expect(await w.write(Buffer.from('234'))).toBe(false);
    expect(await w.finish()).toBe(false);
    expect(await joined).toBe('12345678901234');
    expect(s.sizeBytes).toBe(0);
  });

  it('stays within maxSizeBytes by evicting the least recently used, never failing a put', async () => {
    const s = new MemoryHttpStorage({ maxSizeBytes: 4000, maxObjectBytes: 1000 });
    const body = 'x'.repeat(900);
    for (let i = 0; i < 3; i++) expect(await store(s, key(`k${i}`), body)).toBe(true);
    (await s.get(key('k0')))!.body.close(); // k0 is now the most recently used
    for (let i = 3; i < 20; i++) {
      expect(await store(s, key(`k${i}`), body)).toBe(true);
      expect(s.sizeBytes).toBeLessThanOrEqual(4000);
      if (i === 3) expect(await s.get(key('k1'))).toBeNull();
      if (i === 3) expect(await s.get(key('k0'))).not.toBeNull();
    }
    expect(s.evictionCount).toBeGreaterThan(10);
    expect(s.entries).toBeLessThanOrEqual(4);
  });

  it('lets concurrent fills go over the bound while they run, then evicts back under it', async () => {
    const s = new MemoryHttpStorage({ maxSizeBytes: 2000, maxObjectBytes: 1000 });
    const writers = await Promise.all(Array.from({ length: 5 }, (_, i) => s.put(key(`f${i}`), META)));
    for (const w of writers) expect(await w!.write(Buffer.alloc(900))).toBe(true);
    expect(s.sizeBytes).toBeGreaterThan(2000);
    for (const w of writers) await w!.finish();
    expect(s.sizeBytes).toBeLessThanOrEqual(2000);
    expect(s.entries).toBeGreaterThanOrEqual(1);
    // The most recently finished one is stored.
    expect(await s.get(key('f4'))).not.toBeNull();
  });

  it('purges one variant or every variant of a URL, and a fill purged meanwhile is not stored', async () => {
    const s = new MemoryHttpStorage();
    await store(s, key('p', 'a=1\n'), 'one');
    await store(s, key('p', 'a=2\n'), 'two');
    expect(await s.purge(key('p', 'a=1\n'))).toBe(true);
    expect(await s.get(key('p', 'a=1\n'))).toBeNull();
    expect(await s.get(key('p', 'a=2\n'))).not.toBeNull();
    expect(await s.purge('p')).toBe(true);
    expect(await s.lookup('p')).toBeNull();
    expect(await s.purge('p')).toBe(false);

    const w = (await s.put(key('q'), META))!;
    await w.write(Buffer.from('stale content'));
    await s.purge('q');
    expect(await w.finish()).toBe(false);
    expect(await s.get(key('q'))).toBeNull();
    expect(s.sizeBytes).toBe(0);
  });

  it('updates the meta of a stored entry (a 304 freshened it)', async () => {
    const s = new MemoryHttpStorage();
    expect(await s.updateMeta(key(), META)).toBe(false);
    await store(s, key(), 'body');
    const newer = metaOf(res(['Cache-Control', 'max-age=600']));
    expect(await s.updateMeta(key(), newer)).toBe(true);
    expect((await s.get(key()))!.meta.freshnessLifetime).toBe(600);
  });

  it('rejects bad options with the option named', () => {
    expect(() => new MemoryHttpStorage({ maxSizeBytes: 0 })).toThrow(/"maxSizeBytes"/);
    expect(() => new MemoryHttpStorage({ maxObjectBytes: 1.5 })).toThrow(/"maxObjectBytes"/);
    expect(() => new MemoryHttpStorage({ maxSizeBytes: 10, maxObjectBytes: 20 })).toThrow(/must not exceed "maxSizeBytes"/);
  });
});

describe('lookupVariant', () => {
  it('turns a storage error into a miss, reported once', async () => {
    const broken: HttpCacheStorage = {
      lookup: () => Promise.reject(new Error('redis down')),
      get: () => Promise.reject(new Error('unused')),
      put: () => Promise.resolve(null),
      updateMeta: () => Promise.resolve(false),
      purge: () => Promise.resolve(false),
    };
    const errors: unknown[] = [];
    const r = await lookupVariant(broken, 'p', [], (e) => errors.push(e));
    expect(r.hit).toBeNull();
    expect(errors).toHaveLength(1);
  });
});
