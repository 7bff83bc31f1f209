// Selections per second of each @pingora-ts/load-balancing algorithm, CPU only (no sockets):
// `LoadBalancer.select(key, 1)` in a loop over 1,024 URI keys, for 3, 100 and 10,000 backends.
// Used by scenarios/selection.mjs (in the harness) and selection.mjs (alone).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const DIST = fileURLToPath(new URL('../../packages/load-balancing/dist/index.js', import.meta.url));

/** Each row: an algorithm (`upstreams.selection`), `least_conn` twice (some backends idle, none idle). */
export const ALGORITHMS = ['round_robin', 'random', 'fnv', 'ketama', 'maglev', 'least_conn', 'least_conn, all busy', 'p2c_ewma'];
export const SIZES = [3, 100, 10_000];

/**
 * @typedef {{ algorithm: string, backends: number, perSecond: number, nsPerSelection: number, buildMs: number }} SelectionRow
 */

/**
 * @param {{ roundMs?: number, rounds?: number, log?: (msg: string) => void }} [o]
 * @returns {Promise<SelectionRow[]>}
 */
export async function measureSelections({ roundMs = 300, rounds = 3, log = () => {} } = {}) {
  if (!existsSync(DIST)) throw new Error('packages/load-balancing/dist is missing: run `pnpm build` first');
  const lbm = /** @type {typeof import('../../packages/load-balancing/dist/index.js')} */ (await import(DIST));
  /** @type {Record<string, () => import('../../packages/load-balancing/dist/index.js').SelectionAlgorithm>} */
  const make = {
    round_robin: () => new lbm.RoundRobin(),
    random: () => new lbm.Random(),
    fnv: () => new lbm.FnvHash(),
    ketama: () => new lbm.Ketama(),
    maglev: () => new lbm.Maglev(),
    least_conn: () => new lbm.LeastConn(),
    'least_conn, all busy': () => new lbm.LeastConn(),
    p2c_ewma: () => new lbm.P2cEwma(),
  };
  const keys = Array.from({ length: 1024 }, (_, i) => `/api/v1/items/${i * 7919}?page=${i % 13}`);
  /** @type {SelectionRow[]} */
  const rows = [];
  for (const algorithm of ALGORITHMS) {
    for (const n of SIZES) {
      const backends = Array.from({ length: n }, (_, i) => new lbm.Backend(`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}:8080`, 1 + (i % 3)));
      const lb = lbm.LoadBalancer.fromBackends(backends, { selection: make[algorithm]() });
      // Some load for the load-aware ones: every 7th backend has a request in flight and a
      // latency; in the "all busy" row every backend has 1 to 3 in flight (one ends at once).
      const allBusy = algorithm.endsWith('all busy');
      for (let i = 0; i < n; i += allBusy ? 1 : 7) {
        for (let k = 0; k < (allBusy ? 2 + (i % 3) : 2); k++) lb.requestStarted(backends[i]);
        lb.requestEnded(backends[i], 'ok', 5 + (i % 11));
      }
      let t = performance.now();
      lb.select(keys[0], 1); // builds the selector
      const buildMs = performance.now() - t;
      const perRound = [];
      let sink = 0;
      for (let r = 0; r < rounds + 1; r++) {
        let count = 0;
        t = performance.now();
        const end = t + roundMs;
        let now = t;
        while (now < end) {
          for (let i = 0; i < 1024; i++) if (lb.select(keys[i], 1) !== null) sink++;
          count += 1024;
          now = performance.now();
        }
        if (r > 0) perRound.push(count / ((now - t) / 1000)); // round 0 warms up
      }
      if (sink === 0) throw new Error(`${algorithm}: no selection`);
      perRound.sort((a, b) => a - b);
      const perSecond = perRound[Math.floor(perRound.length / 2)];
      rows.push({ algorithm, backends: n, perSecond, nsPerSelection: 1e9 / perSecond, buildMs });
      log(`  ${algorithm} × ${n}: ${Math.round(perSecond).toLocaleString('en-US')} selections/s (build ${buildMs.toFixed(1)} ms)`);
    }
  }
  return rows;
}

/**
 * The rows as one table: an algorithm per row, selections/s for each backend count.
 * @param {SelectionRow[]} rows
 */
export function selectionTable(rows) {
  const fmt = (/** @type {number} */ v) => Math.round(v).toLocaleString('en-US');
  return {
    columns: ['algorithm', ...SIZES.map((n) => `${n.toLocaleString('en-US')} backends`), ...SIZES.map((n) => `build, ${n.toLocaleString('en-US')} (ms)`)],
    rows: ALGORITHMS.map((a) => {
      const of = (/** @type {number} */ n) => rows.find((r) => r.algorithm === a && r.backends === n);
      return [a, ...SIZES.map((n) => fmt(of(n)?.perSecond ?? NaN)), ...SIZES.map((n) => (of(n)?.buildMs ?? NaN).toFixed(1))];
    }),
  };
}
