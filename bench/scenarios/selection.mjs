// Selections per second of each load-balancing algorithm with 3, 100 and 10,000 backends: CPU
// only, in this process, no peer involved. Also runs alone: `node bench/selection.mjs`.
import { measureSelections, selectionTable } from '../lib/measure-selections.mjs';

/** @type {import('./scenario.mjs').CustomScenario} */
export default {
  name: 'selection',
  title: 'load-balancing selections per second',
  measures: '`LoadBalancer.select(key, 1)` per second for each algorithm, over 1,024 URI keys (CPU only, one core)',
  order: 200,
  optional: true,
  async run(ctx) {
    const rows = await measureSelections({ roundMs: ctx.opts.quick ? 100 : 500, log: ctx.log });
    return { ...selectionTable(rows), notes: NOTES, data: rows };
  },
};

export const NOTES = [
  'median of 3 rounds after a warm-up round; weights 1–3; every 7th backend has 1 request in flight and a latency sample (in "least_conn, all busy" every backend has 1–3)',
  'build: the first selection after a change (the ring, table or list is built then); ketama holds 160 points per weight unit, maglev a 65,537-entry table',
  'least_conn scans from where it last stopped until it meets an idle backend (O(n) only when all are busy); round_robin (smooth weighted, as nginx) visits every backend per selection; p2c_ewma reads two',
  'the machine is shared: compare rows within one run, not across runs',
];
