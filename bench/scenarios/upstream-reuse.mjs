// How often pingora-ts reuses an upstream connection under load. Each case runs a fresh load
// balancer (threads: 1, access log on), stops it with SIGTERM and reads its `pool stats` line,
// or counts `"reused":false` in its access log when that line is not there.
import { pingoraTs } from '../peers/pingora-ts.mjs';
import { measureLoad } from '../lib/measure-load.mjs';
import { wrk } from '../lib/wrk.mjs';

const CASES = [
  { name: 'keep-alive, c=50', wrk: { connections: 50 } },
  { name: 'keep-alive, c=500 (pool holds 128)', wrk: { connections: 500 } },
  { name: 'Connection: close, c=50', wrk: { connections: 50, headers: { Connection: 'close' } } },
];

/** @type {import('./scenario.mjs').CustomScenario} */
export default {
  name: 'upstream-reuse',
  title: 'pingora-ts upstream connection reuse under load',
  measures: "share of upstream requests sent on a pooled connection, from the load balancer's own counters",
  order: 70,
  async run(ctx) {
    const peer = pingoraTs({ threads: 1, accessLog: true, name: 'pingora-ts-reuse' });
    const cases = ctx.opts.quick ? CASES.slice(0, 1) : CASES;
    /** @typedef {{ case: string, requests: number, rps: number, newConnections: number, reusedConnections: number, ratio: number, source: string, accessLogLines: number, error?: string }} Row */
    /** @type {Row[]} */
    const data = [];
    for (const c of cases) {
      /** @type {Row} */
      const row = { case: c.name, requests: 0, rps: NaN, newConnections: NaN, reusedConnections: NaN, ratio: NaN, source: '-', accessLogLines: NaN };
      data.push(row);
      let rp;
      try {
        rp = await ctx.startPeer(peer);
        const m = await measureLoad(ctx.group, rp, wrk({ host: '127.0.0.1', port: rp.port, durationS: ctx.opts.durationS, dir: ctx.dir }, c.wrk));
        row.requests = m.result.requests;
        row.rps = m.result.rps;
        await ctx.stopPeer(rp);
        const stats = await rp.finalStats?.();
        if (!stats) throw new Error('no pool stats line in the error log and no reused field in the access log');
        const total = stats.newConnections + stats.reusedConnections;
        const logged = stats.source === 'access log' ? total : stats.accessLog ? stats.accessLog.newConnections + stats.accessLog.reusedConnections : NaN;
        Object.assign(row, {
          source: stats.source,
          newConnections: stats.newConnections,
          reusedConnections: stats.reusedConnections,
          ratio: total > 0 ? stats.reusedConnections / total : NaN,
          accessLogLines: logged,
        });
        ctx.log(`  ${c.name}: ${(row.ratio * 100).toFixed(1)}% reused (${stats.source})`);
      } catch (err) {
        row.error = /** @type {Error} */ (err).message;
        ctx.log(`  ${c.name}: failed: ${row.error}`);
      } finally {
        if (rp) await ctx.stopPeer(rp);
      }
    }
    // The pool's counters should match one access-log line per request; say so when they do not.
    const mismatches = data.filter((r) => {
      const total = r.newConnections + r.reusedConnections;
      return Number.isFinite(r.accessLogLines) && Math.abs(total - r.accessLogLines) > Math.max(10, 0.02 * r.accessLogLines);
    });
    return {
      columns: ['load', 'client requests (wrk)', 'req/s', 'access log lines', 'new upstream conns', 'reused', 'reuse ratio', 'counted from'],
      rows: data.map((r) =>
        r.error
          ? [r.case, r.requests, r.rps, '', `failed: ${r.error}`, '', '', '']
          : [r.case, r.requests, r.rps, r.accessLogLines, r.newConnections, r.reusedConnections, `${(r.ratio * 100).toFixed(2)}%`, r.source],
      ),
      notes: [
        `wrk for ${ctx.opts.durationS} s per case, proxy on CPU 1 with its access log written to a file (so req/s here is below the get-c50 row)`,
        '"pool stats" is the line the load balancer logs on SIGTERM; "access log" is the fallback count of `"reused":false` lines; ' +
          'access log lines can exceed wrk\'s count by the requests still in flight when wrk stopped',
        ...mismatches.map(
          (r) => `**${r.case}: the pool counted ${r.newConnections + r.reusedConnections} upstream requests but the access log has ${r.accessLogLines} lines**: one of the two counts something else`,
        ),
      ],
      data,
    };
  },
};
