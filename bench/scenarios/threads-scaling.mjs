// threads: 1 -> 2 for pingora-ts, from the load scenarios already run (no extra load).
import { median } from '../lib/median.mjs';

/** @type {import('./scenario.mjs').CustomScenario} */
export default {
  name: 'threads-scaling',
  title: 'pingora-ts threads: 1 -> 2',
  measures: 'req/s with `threads: 2` (CPUs 0,1) over `threads: 1` (CPU 1 only), from the load scenarios above',
  order: 80,
  async run(ctx) {
    /** @type {Array<{ scenario: string, t1: number, t2: number, ratio: number, cpu1: number, cpu2: number, perCore: number, ceiling: number, processes: number }>} */
    const data = [];
    for (const s of ctx.results) {
      if (s.kind !== 'load') continue;
      const t1 = s.rows.find((r) => r.peer === 'pingora-ts');
      const t2 = s.rows.find((r) => r.peer === 'pingora-ts-t2');
      if (!t1 || !t2) continue;
      // req/s per core of proxy CPU, threads: 2 over threads: 1: what a second worker costs, whatever CPU it got
      const perCore = t1.cpuPct > 0 && t2.cpuPct > 0 ? t2.rps / t2.cpuPct / (t1.rps / t1.cpuPct) : NaN;
      const ceiling = ceilingOnTwoCores(t1, s.rows.find((r) => r.peer === 'direct'));
      data.push({ scenario: s.title, t1: t1.rps, t2: t2.rps, ratio: t2.rps / t1.rps, cpu1: t1.cpuPct, cpu2: t2.cpuPct, perCore, ceiling, processes: t2.processes });
    }
    if (data.length === 0) return { columns: ['scenario'], rows: [], notes: ['no load scenario ran both pingora-ts peers'], data };
    const ratio = median(data.map((d) => d.ratio));
    const cores = median(data.map((d) => d.cpu2)) / 100;
    const procs = Math.max(...data.map((d) => d.processes));
    const perCore = median(data.map((d) => d.perCore).filter((v) => Number.isFinite(v)));
    const ceilings = data.map((d) => d.ceiling).filter((v) => Number.isFinite(v));
    const notes = [
      `median ratio ×${ratio.toFixed(2)}; threads: 2 used ${cores.toFixed(2)} cores (median CPU) and ran as ${procs} process${procs === 1 ? '' : 'es'}`,
      `req/s per core of proxy CPU: threads: 2 gets ×${perCore.toFixed(2)} of what threads: 1 gets, so on two cores of its own it would reach about ×${(2 * perCore).toFixed(2)} (an estimate: it assumes the load generator and upstream are elsewhere)`,
      'threads: 2 is pinned to CPUs 0,1, so it shares CPU 0 with the upstream and wrk: perfect scaling would be well below ×2.00 here',
    ];
    if (ceilings.length > 0) {
      notes.push(
        `the most threads: 2 could reach on these 2 cores is about ×${median(ceilings).toFixed(2)} (median over scenarios): 2 cores / (proxy CPU per request with threads: 1 + ` +
          'wrk and upstream CPU per request, taken as 1 core / direct req/s)',
      );
    }
    if (procs <= 1) {
      notes.unshift('**threads: 2 ran as one process**: the load balancer did not start workers, so this is not a scaling figure');
    } else if (cores < 1.5) {
      notes.unshift(
        `threads: 2 got ${cores.toFixed(2)} cores: on this 2-core machine CPU 0 also runs wrk and the upstream nginx, so a second worker has little CPU to scale into`,
      );
    }
    return {
      columns: ['scenario', 'threads: 1 req/s', 'threads: 2 req/s', 'ratio', 'CPU % t1', 'CPU % t2', 'req/s per core, t2/t1', 'ceiling here'],
      rows: data.map((d) => [d.scenario, d.t1, d.t2, d.ratio, d.cpu1, d.cpu2, d.perCore, d.ceiling]),
      notes,
      data,
    };
  },
};

/**
 * The highest threads: 2 / threads: 1 ratio this machine allows: everything shares 2 cores, so
 * req/s can reach at most 2 / (proxy CPU + wrk and upstream CPU, per request). The direct row
 * (wrk and the upstream alone on CPU 0, which they fill) gives the second: 1 core / its req/s.
 * NaN without a direct row or CPU figures.
 * @param {{ rps: number, cpuPct: number }} t1  the threads: 1 row
 * @param {{ rps: number } | undefined} direct
 * @returns {number}
 */
export function ceilingOnTwoCores(t1, direct) {
  if (direct === undefined || !(direct.rps > 0) || !(t1.rps > 0) || !(t1.cpuPct > 0)) return NaN;
  const proxyCores = t1.cpuPct / 100 / t1.rps;
  const loadCores = 1 / direct.rps;
  return 2 / (proxyCores + loadCores) / t1.rps;
}
