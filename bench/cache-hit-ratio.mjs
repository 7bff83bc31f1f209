// node bench/cache-hit-ratio.mjs [--quick]: hit ratio of @pingora-ts/cache's MemoryCache against
// lru-cache on seeded Zipf and scan-polluted traces, and gets per second of both on hits (CPU
// only, no peers, under a minute), written to results/cache.md and results/cache.json.
import { writeFileSync } from 'node:fs';
import { arch, cpus, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { MemoryCache } from '@pingora-ts/cache';
import { LRUCache } from 'lru-cache';

const quick = process.argv.includes('--quick');
const KEYS = 100_000;
const REQUESTS = quick ? 200_000 : 1_000_000;
const SIZES = [0.001, 0.01, 0.1];
// TinyUFO's own bench (tinyufo/benches/bench_hit_ratio.rs): 10,000 items, 5,000,000 requests.
const REF_ITEMS = 10_000;
const REF_REQUESTS = quick ? 500_000 : 5_000_000;
const REF_SIZES = [0.005, 0.01, 0.05, 0.1, 0.25];
// TinyUFO's published hit ratios for that bench (lru and TinyUFO columns), to compare with.
/** @type {Record<string, Record<number, number[]>>} */
const TINYUFO = {
  '0.9': { 0.005: [19.12, 33.22], 0.01: [26.14, 40.0], 0.05: [45.55, 57.75], 0.1: [55.62, 66.28], 0.25: [71.15, 78.49] },
  '1': { 0.005: [30.94, 45.08], 0.01: [39.02, 52.17], 0.05: [58.68, 68.77], 0.1: [67.6, 75.91], 0.25: [79.94, 85.28] },
};

/** mulberry32: a small seeded PRNG, so every run replays the same traces. @param {number} seed */
function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * `count` ranks drawn from Zipf(s) over `n` items (rank 0 the most popular), by CDF search.
 * @param {number} n @param {number} s @param {number} count @param {number} seed
 */
function zipfTrace(n, s, count, seed) {
  const cdf = new Float64Array(n);
  let sum = 0;
  for (let i = 0; i < n; i++) cdf[i] = sum += 1 / Math.pow(i + 1, s);
  const rand = prng(seed);
  const out = new Int32Array(count);
  for (let r = 0; r < count; r++) {
    const u = rand() * sum;
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (cdf[mid] < u) lo = mid + 1;
      else hi = mid;
    }
    out[r] = lo;
  }
  return out;
}

/**
 * Zipf 1.0 with scans: every 100,000 requests, a burst of 20,000 keys seen once and never again
 * (a crawler, a batch job) replaces the same number of Zipf requests: 20 % of the trace.
 * @param {number} n @param {number} count @param {number} seed
 */
function scanTrace(n, count, seed) {
  const out = zipfTrace(n, 1.0, count, seed);
  let next = n;
  for (let start = 50_000; start + 20_000 <= count; start += 100_000) {
    for (let i = start; i < start + 20_000; i++) out[i] = next++;
  }
  return out;
}

/**
 * Hit ratio (%) of a cache used cache-aside: get, and set on a miss.
 * @param {{ get(k: string): unknown; set(k: string, v: number): unknown }} cache @param {Int32Array} trace @param {string[]} names
 */
function hitRatio(cache, trace, names) {
  let hits = 0;
  for (let i = 0; i < trace.length; i++) {
    const key = names[trace[i]];
    if (cache.get(key) !== undefined) hits++;
    else cache.set(key, 1);
  }
  return (hits / trace.length) * 100;
}

const keyNames = (/** @type {number} */ max) => Array.from({ length: max }, (_, i) => `/assets/${i}`);
/** @type {(size: number) => MemoryCache<string, number>} */
const mem = (size) => new MemoryCache({ maxEntries: size });
/** @type {(size: number) => LRUCache<string, number>} */
const lru = (size) => new LRUCache({ max: size });
const pct = (/** @type {number} */ x) => `${x.toFixed(2)} %`;
const pp = (/** @type {number} */ x) => `${x >= 0 ? '+' : ''}${x.toFixed(2)} pp`;

const loadBefore = loadavg()[0];
const t0 = performance.now();
const traces = [
  { name: 'Zipf 0.9', trace: zipfTrace(KEYS, 0.9, REQUESTS, 1) },
  { name: 'Zipf 1.0', trace: zipfTrace(KEYS, 1.0, REQUESTS, 2) },
  { name: 'Zipf 1.0 + scans (20 % one-time keys)', trace: scanTrace(KEYS, REQUESTS, 3) },
];
const names = keyNames(KEYS + REQUESTS);
const hitRows = [];
for (const { name, trace } of traces) {
  for (const share of SIZES) {
    const size = Math.round(KEYS * share);
    const m = hitRatio(mem(size), trace, names);
    const l = hitRatio(lru(size), trace, names);
    hitRows.push({ trace: name, cacheShare: share, entries: size, memoryCache: m, lruCache: l });
    console.log(`${name}, ${size} entries: MemoryCache ${pct(m)}, lru-cache ${pct(l)}`);
  }
}

const refRows = [];
for (const s of [0.9, 1.0]) {
  const trace = zipfTrace(REF_ITEMS, s, REF_REQUESTS, 10 + s * 10);
  for (const share of REF_SIZES) {
    const size = Math.round(REF_ITEMS * share);
    const m = hitRatio(mem(size), trace, names);
    const l = hitRatio(lru(size), trace, names);
    const [tLru, tUfo] = TINYUFO[String(s)][share];
    refRows.push({ zipf: s, cacheShare: share, memoryCache: m, lruCache: l, tinyUfo: tUfo, tinyUfoLru: tLru });
    console.log(`reference zipf ${s}, ${share * 100} %: MemoryCache ${pct(m)} (TinyUFO ${tUfo} %), lru-cache ${pct(l)} (lru ${tLru} %)`);
  }
}

/**
 * Gets per second on hits: `entries` keys cached, read in a Zipf order; median of 5 rounds.
 * @param {(size: number) => { get(k: string): number | undefined; set(k: string, v: number): unknown }} make @param {number} entries
 */
function getsPerSecond(make, entries) {
  const cache = make(entries);
  const keys = keyNames(entries);
  for (const k of keys) cache.set(k, 1);
  for (const k of keys) cache.get(k); // every key has been read once before the timing
  const order = zipfTrace(entries, 1.0, 1 << 20, 7);
  const rounds = [];
  for (let round = 0; round < 6; round++) {
    let n = 0;
    let sink = 0;
    const start = performance.now();
    let elapsed;
    do {
      for (let i = 0; i < 1 << 16; i++) sink += cache.get(keys[order[(n + i) & ((1 << 20) - 1)]]) ?? 0;
      n += 1 << 16;
      elapsed = performance.now() - start;
    } while (elapsed < (quick ? 100 : 400));
    if (sink !== n) throw new Error('a get missed during the speed test');
    if (round > 0) rounds.push((n / elapsed) * 1000);
  }
  rounds.sort((a, b) => a - b);
  return rounds[2];
}
const speedRows = [];
for (const entries of [1_000, 100_000]) {
  const m = getsPerSecond(mem, entries);
  const l = getsPerSecond(lru, entries);
  speedRows.push({ entries, memoryCache: m, lruCache: l });
  console.log(`gets/s with ${entries} entries: MemoryCache ${(m / 1e6).toFixed(2)} M, lru-cache ${(l / 1e6).toFixed(2)} M`);
}
const seconds = ((performance.now() - t0) / 1000).toFixed(0);

const machine = `${cpus().length} × ${cpus()[0]?.model ?? 'unknown CPU'} (${arch()}), Node ${process.version}, load average ${loadBefore.toFixed(1)} at the start`;
const md = [
  '# Cache hit ratio and speed: MemoryCache vs lru-cache',
  '',
  `\`node bench/cache-hit-ratio.mjs\`${quick ? ' --quick' : ''}, ${new Date().toISOString().slice(0, 10)}, ${machine}, ${seconds} s.`,
  `Both caches are used cache-aside (get, then set on a miss) with string keys, on seeded traces of ${REQUESTS.toLocaleString('en-US')} requests over`,
  `${KEYS.toLocaleString('en-US')} keys; the cache holds 0.1 %, 1 % or 10 % of the keys. lru-cache ${'11'} is the baseline.`,
  '',
  '| trace | cache size | MemoryCache | lru-cache | difference |',
  '|---|---:|---:|---:|---:|',
  ...hitRows.map((r) => `| ${r.trace} | ${r.entries.toLocaleString('en-US')} (${r.cacheShare * 100} %) | ${pct(r.memoryCache)} | ${pct(r.lruCache)} | ${pp(r.memoryCache - r.lruCache)} |`),
  '',
  `## The same workload as TinyUFO's published table`,
  '',
  `${REF_ITEMS.toLocaleString('en-US')} items, ${REF_REQUESTS.toLocaleString('en-US')} requests, as in Pingora's \`tinyufo/benches/bench_hit_ratio.rs\`; the TinyUFO and`,
  'lru (Rust crate) columns are the figures published there (its own random draws, so ±0.3 pp is noise).',
  '',
  '| Zipf | cache size | MemoryCache | TinyUFO (published) | MemoryCache − TinyUFO | lru-cache | lru (published) |',
  '|---:|---:|---:|---:|---:|---:|---:|',
  ...refRows.map((r) => `| ${r.zipf.toFixed(1)} | ${r.cacheShare * 100} % | ${pct(r.memoryCache)} | ${pct(r.tinyUfo)} | ${pp(r.memoryCache - r.tinyUfo)} | ${pct(r.lruCache)} | ${pct(r.tinyUfoLru)} |`),
  '',
  '## Gets per second on hits',
  '',
  'Every key cached and read once before; then gets in a Zipf 1.0 order of the cached keys, median of 5 rounds (one core, this process).',
  '',
  '| entries | MemoryCache | lru-cache | MemoryCache / lru-cache |',
  '|---:|---:|---:|---:|',
  ...speedRows.map((r) => `| ${r.entries.toLocaleString('en-US')} | ${(r.memoryCache / 1e6).toFixed(2)} M/s | ${(r.lruCache / 1e6).toFixed(2)} M/s | ${(r.memoryCache / r.lruCache).toFixed(2)}x |`),
  '',
  '- scan trace: every 100,000 requests a burst of 20,000 keys that are never seen again replaces Zipf 1.0 requests; its hit ratio counts every request, so 80 % is the ceiling',
  '- MemoryCache counts a get in its frequency sketch (4 rows of 4-bit counters) unless the entry already has its 3 CLOCK uses, so hits on hot keys skip the sketch; lru-cache moves the entry to the head of its list on every get',
  '',
].join('\n');
const out = fileURLToPath(new URL('./results/', import.meta.url));
if (!quick) {
  writeFileSync(`${out}cache.md`, md);
  writeFileSync(`${out}cache.json`, `${JSON.stringify({ machine, requests: REQUESTS, keys: KEYS, hitRows, refRows, speedRows }, null, 2)}\n`);
}
console.log(md);
