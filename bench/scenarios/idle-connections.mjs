// Memory per idle keep-alive client connection: RSS of the proxy before and after N idle
// connections (each has served one GET), divided by the connections still open.
import { fileURLToPath } from 'node:url';
import { REFERENCE } from '../peers/index.mjs';
import { ratio } from '../lib/format.mjs';
import { LOADGEN_CPUS } from '../lib/measure-load.mjs';
import { processTree, rssKiB } from '../lib/proc-stats.mjs';
import { waitForJsonLine } from '../lib/wait-for-json-line.mjs';

const CLIENT = fileURLToPath(new URL('../clients/idle-clients.mjs', import.meta.url));
const sleep = (/** @type {number} */ ms) => new Promise((r) => setTimeout(r, ms));

/** @type {import('./scenario.mjs').CustomScenario} */
export default {
  name: 'idle-connections',
  title: 'idle keep-alive client connections: memory per connection',
  measures: 'RSS the proxy holds per idle client connection (after one GET each), from /proc/<pid>/status before and after',
  order: 5,
  async run(ctx) {
    const n = ctx.opts.idleConns;
    const settleMs = ctx.opts.quick ? 300 : 1500;
    /** @typedef {{ peer: string, label: string, open: number, failed: number, beforeMiB: number, afterMiB: number, kibPerConn: number, error?: string }} Row */
    /** @type {Row[]} */
    const data = [];
    for (const rp of ctx.running) {
      if (rp.peer.isProxy === false) continue;
      const pid = /** @type {number} */ (rp.pid());
      /** @type {Row} */
      const row = { peer: rp.peer.name, label: rp.peer.label, open: 0, failed: 0, beforeMiB: NaN, afterMiB: NaN, kibPerConn: NaN };
      data.push(row);
      const before = rssKiB(processTree(pid));
      const client = ctx.group.start({ name: 'idle-clients', cmd: process.execPath, args: [CLIENT, String(rp.port), String(n), '256'], cpus: LOADGEN_CPUS, stdin: true });
      try {
        const ready = await waitForJsonLine(client, 'ready', 120_000);
        await sleep(settleMs);
        const after = rssKiB(processTree(pid));
        const mark = client.output().length;
        client.child.stdin?.write('count\n');
        const { open } = await waitForJsonLine(client, 'count', 5000, mark);
        Object.assign(row, { open, failed: ready.failed, beforeMiB: before / 1024, afterMiB: after / 1024, kibPerConn: open > 0 ? (after - before) / open : NaN });
        if (ready.failed > 0) row.error = `${ready.failed} failed (${ready.firstError})`;
        ctx.log(`  ${rp.peer.name}: ${open} open in ${ready.ms} ms, ${row.kibPerConn.toFixed(1)} KiB/conn`);
      } catch (err) {
        row.error = /** @type {Error} */ (err).message;
        ctx.log(`  ${rp.peer.name}: failed: ${row.error}`);
      } finally {
        await ctx.group.stop(client, 2000);
        await sleep(ctx.opts.quick ? 200 : 500); // let the proxy close its side before the next peer
      }
    }
    const ref = data.find((r) => r.peer === REFERENCE)?.kibPerConn ?? NaN;
    return {
      columns: ['proxy', 'open', 'RSS before (MiB)', 'RSS after (MiB)', 'KiB per connection', 'vs nginx'],
      rows: data.map((r) => [
        r.label,
        r.error && r.open === 0 ? `failed: ${r.error}` : r.open,
        r.beforeMiB,
        r.afterMiB,
        r.kibPerConn,
        ratio(r.kibPerConn / ref),
      ]),
      notes: [
        `${n.toLocaleString('en-US')} connections opened 256 at a time from one Node process on CPU ${LOADGEN_CPUS}; each sends one keep-alive GET, reads the response and stays idle`,
        'KiB per connection = (RSS after - RSS before) / connections still open; RSS sums the proxy process and its children; lower is better',
        ...data.filter((r) => r.error && r.open > 0).map((r) => `${r.label}: ${r.error}`),
      ],
      data,
    };
  },
};
