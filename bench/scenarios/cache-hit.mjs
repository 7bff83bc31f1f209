// Cached hits through each proxy: keep-alive GET at c=50 of an object the proxy has in its HTTP
// cache, a small one and a 64 KiB one, against nginx `proxy_cache`. The peers are ready only once
// both objects come back `X-Cache-Status: HIT`, and the upstream logs every request that reaches
// it, so the table shows how many of the measured requests were really served from the cache.
import { cacheHit } from '../lib/cache-hit-probe.mjs';
import { SATURATED_PCT } from '../lib/cpu-per-request.mjs';
import { int, num, ratio } from '../lib/format.mjs';
import { startOwnPeers } from '../lib/own-peers.mjs';
import { runRounds } from '../lib/run-load-scenario.mjs';
import { wrk } from '../lib/wrk.mjs';
import { cachePeers } from '../peers/cache-peers.mjs';
import { CACHEABLE, originRequests } from '../peers/upstream.mjs';

const CONNECTIONS = 50;
/** Issue 13's target for pingora-ts. */
const TARGET = 0.8;
const CASES = [
  { id: 'small', label: '6 B', object: CACHEABLE.small },
  { id: '64k', label: '64 KiB', object: CACHEABLE.large },
];

/** @typedef {{ requests: number, origin: number }} OriginCount  wrk's requests and the upstream's over the measured rounds */

/**
 * The load of one case, as a load scenario for `runRounds`.
 * @param {typeof CASES[number]} c
 * @returns {import('./scenario.mjs').LoadScenario}
 */
function caseScenario(c) {
  return {
    name: `cache-hit-${c.id}`,
    title: `cached hit, ${c.label} object, c=${CONNECTIONS}`,
    measures: 'req/s of cache hits',
    order: 0,
    connections: CONNECTIONS,
    payload: `GET ${c.object.path}, a ${c.label} cached response`,
    load: (t) => wrk(t, { connections: CONNECTIONS, path: c.object.path }),
  };
}

/** @type {import('./scenario.mjs').CustomScenario} */
export default {
  name: 'cache-hit',
  title: `cached hits, keep-alive c=${CONNECTIONS}: 6 B and 64 KiB objects`,
  measures:
    "req/s of responses served from each proxy's HTTP cache (nginx `proxy_cache`, HAProxy `cache`, pingora-ts `services[].cache`), " +
    'keep-alive GET at c=50 of one cached object, with the requests that reached the upstream counted',
  order: 59,
  optional: true,
  async run(ctx) {
    const own = await startOwnPeers(ctx, { peers: cachePeers({ baseline: ctx.opts.baseline }), reference: 'nginx' });
    try {
      const columns = ['object', 'proxy', 'req/s', 'vs nginx', 'p50 ms', 'p99 ms', 'errors', 'CPU %', 'CPU µs / req', 'RSS max MiB', 'requests', 'origin requests', 'from cache'];
      /** @type {Array<Array<string | number>>} */
      const rows = [];
      /** @type {string[]} */
      const notes = [];
      const data = [];
      for (const c of CASES) {
        /** @type {Map<string, OriginCount>} */
        const counts = new Map();
        // The upstream logs only the /cache/* paths and only one scenario's peer runs at a time.
        const observe = (/** @type {import('../lib/start-peer.mjs').RunningPeer} */ rp) => {
          const before = originRequests(ctx.dir);
          return (/** @type {import('../lib/measure-load.mjs').Measurement} */ m) => {
            const count = counts.get(rp.peer.name) ?? { requests: 0, origin: 0 };
            count.requests += m.result.requests;
            count.origin += originRequests(ctx.dir) - before;
            counts.set(rp.peer.name, count);
          };
        };
        ctx.log(`  ${c.label} object (GET ${c.object.path})`);
        const section = await runRounds(caseScenario(c), ctx, own, observe);
        // Still hits after the load (an eviction or expiry meanwhile would show here too).
        for (const rp of own.running) {
          await cacheHit(rp.port, c.object).catch((/** @type {Error} */ err) => notes.push(`**${rp.peer.label}, ${c.label}: after the rounds, ${err.message}**`));
        }
        for (const r of section.rows) rows.push(caseRow(c.label, r, counts.get(r.peer)));
        const ref = section.rows.find((r) => r.peer === 'nginx');
        if (ref && ref.cpuPct < SATURATED_PCT) {
          notes.push(
            `**${c.label}: nginx was not the limit**: it used ${int(ref.cpuPct)}% of its core, so its req/s is below what it can do (wrk shares CPU 0 with the upstream and any other load); compare CPU µs / req`,
          );
        }
        notes.push(...section.rows.filter((r) => r.failed && r.rounds.length > 0).map((r) => `${r.label}, ${c.label}: failed after ${r.rounds.length} round(s): ${r.failed}`));
        data.push({ case: c.id, path: c.object.path, bytes: c.object.bytes, command: section.command, rows: section.rows, origin: Object.fromEntries(counts) });
      }
      const pt = data.map((d) => ({ label: CASES.find((c) => c.id === d.case)?.label, row: d.rows.find((r) => r.peer === 'pingora-ts'), ref: d.rows.find((r) => r.peer === 'nginx') }));
      const ptLine = pt.every((p) => p.row && p.ref && Number.isFinite(p.row.ratio))
        ? [
            `pingora-ts against nginx: ${pt
              .map((p) => {
                const [r, n] = /** @type {import('./scenario.mjs').LoadRow[]} */ ([p.row, p.ref]);
                return `${ratio(r.ratio)}x the req/s and ${ratio(cpuUs(r) / cpuUs(n))}x the CPU per response (${p.label})`;
              })
              .join(', ')}; target in issue 13: ≥ ${TARGET}x the req/s`,
          ]
        : [`target in issue 13: pingora-ts ≥ ${TARGET}x nginx`];
      return {
        columns,
        rows,
        notes: [
          `load: ${data.map((d) => `\`${d.command}\``).join(' and ')}; each proxy alone on CPU 1, wrk and the upstream on CPU 0`,
          ...ptLine,
          'the upstream sends `Cache-Control: public, max-age=600`; every proxy stores by it. A peer starts measuring only once a GET of each object answers `X-Cache-Status: HIT`; ' +
            '"origin requests" are the requests the upstream logged for /cache/* during that peer\'s measured rounds, "from cache" is 1 − origin / requests',
          'CPU µs / req: the proxy\'s CPU time per response (CPU % / req/s)',
          ...notes,
          ...own.running.map((rp) => `${rp.peer.label}: ${rp.peer.config}`),
        ],
        data,
      };
    } finally {
      await own.stop();
    }
  },
};

/**
 * One table row: the load figures, CPU per request and the origin count.
 * @param {string} object
 * @param {import('./scenario.mjs').LoadRow} r
 * @param {OriginCount | undefined} count
 * @returns {Array<string | number>}
 */
function caseRow(object, r, count) {
  if (r.skipped) return [object, r.label, `skipped: ${r.skipped}`, '-', '-', '-', '-', '-', '-', '-', '-', '-', '-'];
  if (r.failed && r.rounds.length === 0) return [object, r.label, `failed: ${r.failed}`, '-', '-', '-', '-', '-', '-', '-', '-', '-', '-'];
  const fromCache = count && count.requests > 0 ? `${((1 - count.origin / count.requests) * 100).toFixed(2)}%` : '-';
  return [object, r.label, int(r.rps), ratio(r.ratio), num(r.p50Ms), num(r.p99Ms), int(r.errors), int(r.cpuPct), num(cpuUs(r)), num(r.rssMaxMiB), int(count?.requests ?? NaN), int(count?.origin ?? NaN), fromCache];
}

/** The proxy's CPU time per response, µs (CPU % of one core / req/s). @param {import('./scenario.mjs').LoadRow} r */
function cpuUs(r) {
  return r.rps > 0 ? ((r.cpuPct / 100) * 1e6) / r.rps : Number.NaN;
}
