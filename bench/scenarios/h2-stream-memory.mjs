// Memory under HTTP/2: 1 GiB through one h2c stream each way (RSS growth of the proxy while it
// streams, and throughput), then memory per idle h2c client connection beside the HTTP/1.1
// figure, on the same instance.
import { fileURLToPath } from 'node:url';
import { ratio } from '../lib/format.mjs';
import { LOADGEN_CPUS } from '../lib/measure-load.mjs';
import { startBackend, wantedPeers } from '../lib/own-peers.mjs';
import { processTree, rssKiB } from '../lib/proc-stats.mjs';
import { h2cGet, probeReady } from '../lib/protocol-probes.mjs';
import { waitForJsonLine } from '../lib/wait-for-json-line.mjs';
import { direct } from '../peers/direct.mjs';
import { h2cPeers } from '../peers/h2c-peers.mjs';
import { pingoraTs } from '../peers/pingora-ts.mjs';

const client = (/** @type {string} */ f) => fileURLToPath(new URL(`../clients/${f}`, import.meta.url));
const sleep = (/** @type {number} */ ms) => new Promise((r) => setTimeout(r, ms));
const MiB = 1024 * 1024;
/** RSS growth the issue allows while a GiB streams through. */
export const RSS_GROWTH_TARGET_MIB = 64;
/** Idle connections of each protocol (the issue asks for about 1,000). */
const IDLE_MAX = 1000;

/**
 * @typedef {object} Row
 * @property {string} peer
 * @property {string} label
 * @property {string} config
 * @property {{ mibPerS: number, growthMiB: number, error?: string }} up
 * @property {{ mibPerS: number, growthMiB: number, error?: string }} down
 * @property {{ open: number, kibPerConn: number, error?: string }} [idleH1]
 * @property {{ open: number, kibPerConn: number, error?: string }} [idleH2]
 * @property {string} [skipped]
 */

/** @type {import('./scenario.mjs').CustomScenario} */
export default {
  name: 'h2-stream-memory',
  title: 'HTTP/2 memory: 1 GiB through one stream each way, idle h2c connections',
  measures: "the proxy's RSS growth while one h2c stream carries 1 GiB up (to a sink) and 1 GiB down (from a generator), the throughput, and RSS per idle h2c client connection beside HTTP/1.1",
  order: 58,
  optional: true,
  async run(ctx) {
    const bytes = ctx.opts.quick ? 128 * MiB : 1024 * MiB;
    const idle = Math.min(ctx.opts.idleConns, IDLE_MAX);
    const backend = await startBackend(ctx, 'stream-server.mjs');
    const h2cPort = /** @type {number} */ (backend.info.h2cPort);
    const ready = probeReady('serve h2c (HTTP/2 by prior knowledge)', (port) => h2cGet(port));
    /** @type {Array<{ peer: import('../peers/peer.mjs').Peer, upstream: number }>} */
    const candidates = [
      { peer: { ...direct, config: 'the client straight to the h2c port of the stream server', ready }, upstream: h2cPort },
      ...h2cPeers({ baseline: ctx.opts.baseline }).map((peer) => ({ peer, upstream: backend.port })),
      { peer: pingoraTs({ threads: 1, accessLog: true, alpn: 'h2', ready, name: 'pingora-ts-h2up' }), upstream: h2cPort },
    ];
    const wanted = wantedPeers(ctx.opts, candidates.map((c) => c.peer), 'direct');
    /** @type {Row[]} */
    const data = [];
    try {
      for (const { peer, upstream } of candidates.filter((c) => wanted.includes(c.peer))) {
        const label = peer.name === 'pingora-ts-h2up' ? 'pingora-ts, upstream alpn: h2' : peer.label;
        /** @type {Row} */
        const row = { peer: peer.name, label, config: peer.config, up: { mibPerS: NaN, growthMiB: NaN }, down: { mibPerS: NaN, growthMiB: NaN } };
        data.push(row);
        let rp;
        try {
          rp = await ctx.startPeer(peer, { upstream: { port: upstream } });
        } catch (err) {
          row.skipped = /** @type {Error} */ (err).message;
          ctx.log(`  ${peer.name}: skipped: ${row.skipped}`);
          continue;
        }
        try {
          for (const dir of /** @type {const} */ (['up', 'down'])) {
            row[dir] = await stream(ctx, rp, dir, bytes);
            const rss = peer.isProxy === false ? '' : `, RSS +${row[dir].growthMiB.toFixed(1)} MiB`;
            ctx.log(`  ${peer.name} ${dir}: ${row[dir].error ?? `${row[dir].mibPerS.toFixed(0)} MiB/s${rss}`}`);
          }
          if (peer.isProxy !== false) {
            row.idleH1 = await idleConnections(ctx, rp, rp.h1Port ?? rp.port, 'idle-clients.mjs', idle);
            row.idleH2 = await idleConnections(ctx, rp, rp.port, 'idle-h2-clients.mjs', idle);
            ctx.log(`  ${peer.name} idle: h1 ${row.idleH1.kibPerConn.toFixed(1)} KiB/conn, h2 ${row.idleH2.kibPerConn.toFixed(1)} KiB/conn`);
          }
        } finally {
          await ctx.stopPeer(rp);
        }
      }
    } finally {
      await ctx.group.stop(backend.proc, 2000);
    }
    const gib = bytes / (1024 * MiB);
    const size = gib >= 1 ? `${gib} GiB` : `${bytes / MiB} MiB`;
    const ref = data.find((r) => r.peer === 'direct');
    const cell = (/** @type {{ mibPerS: number, growthMiB: number, error?: string }} */ d, /** @type {'mibPerS' | 'growthMiB'} */ k) => (d.error ? `failed: ${d.error}` : d[k]);
    const idleCell = (/** @type {{ open: number, kibPerConn: number, error?: string } | undefined} */ d) => (!d ? '-' : d.error && d.open === 0 ? `failed: ${d.error}` : d.kibPerConn);
    return {
      columns: ['proxy', 'upload MiB/s', 'vs direct', 'upload RSS growth MiB', 'download MiB/s', 'vs direct', 'download RSS growth MiB', `idle h1 KiB/conn`, `idle h2c KiB/conn`],
      rows: data.map((r) =>
        r.skipped
          ? [r.label, `skipped: ${r.skipped}`, '-', '-', '-', '-', '-', '-', '-']
          : [
              r.label,
              cell(r.up, 'mibPerS'),
              ratio(r.up.mibPerS / (ref?.up.mibPerS ?? NaN)),
              r.peer === 'direct' ? '-' : cell(r.up, 'growthMiB'),
              cell(r.down, 'mibPerS'),
              ratio(r.down.mibPerS / (ref?.down.mibPerS ?? NaN)),
              r.peer === 'direct' ? '-' : cell(r.down, 'growthMiB'),
              idleCell(r.idleH1),
              idleCell(r.idleH2),
            ],
      ),
      notes: [
        `${size} each way on one h2c stream from one Node client (node:http2, 16 MiB windows) on CPU ${LOADGEN_CPUS}: POST to a sink, then GET from a generator; the upstream (node:http and node:http2 on CPU ${LOADGEN_CPUS}) is HTTP/1.1 except for the \`alpn: h2\` row`,
        `RSS growth = the proxy's highest RSS while the stream runs (sampled every 100 ms) minus its RSS just before; target in issue 11: < ${RSS_GROWTH_TARGET_MIB} MiB`,
        `idle: ${idle.toLocaleString('en-US')} connections of each protocol on the same instance (one GET each, then idle), RSS after minus before over the connections still open; nginx and HAProxy take HTTP/1.1 on a second listener`,
        ...data.filter((r) => !r.skipped).map((r) => `${r.label}: ${r.config}`),
        ...data.flatMap((r) =>
          [r.idleH1, r.idleH2].filter((d) => d?.error && d.open > 0).map((d) => `${r.label}: ${d?.error}`),
        ),
      ],
      data,
    };
  },
};

/**
 * One transfer through `rp` in one direction, with the proxy's RSS sampled around it.
 * @param {import('./scenario.mjs').ScenarioContext} ctx
 * @param {import('../lib/start-peer.mjs').RunningPeer} rp
 * @param {'up' | 'down'} dir
 * @param {number} bytes
 * @returns {Promise<{ mibPerS: number, growthMiB: number, error?: string }>}
 */
async function stream(ctx, rp, dir, bytes) {
  const pid = rp.pid();
  const rss = () => (pid ? rssKiB(processTree(pid)) : NaN);
  const before = rss();
  let max = before;
  const sampler = setInterval(() => (max = Math.max(max, rss())), 100);
  const proc = ctx.group.start({ name: `h2-stream-${dir}`, cmd: process.execPath, args: [client('h2-stream-client.mjs'), String(rp.port), dir, String(bytes), '120'], cpus: LOADGEN_CPUS });
  try {
    await proc.exited;
  } finally {
    clearInterval(sampler);
  }
  max = Math.max(max, rss());
  const growthMiB = (max - before) / 1024;
  const m = /^(\{"event":"(done|error)".*\})$/m.exec(proc.output());
  if (!m) return { mibPerS: NaN, growthMiB, error: `no result from the client: ${proc.output().trim().split('\n').slice(-2).join(' | ')}` };
  const j = JSON.parse(m[1]);
  return j.event === 'done' ? { mibPerS: j.mibPerS, growthMiB } : { mibPerS: NaN, growthMiB, error: j.error };
}

/**
 * RSS per idle connection: `count` connections opened by `script` (clients/), kept idle.
 * @param {import('./scenario.mjs').ScenarioContext} ctx
 * @param {import('../lib/start-peer.mjs').RunningPeer} rp
 * @param {number} port
 * @param {string} script
 * @param {number} count
 * @returns {Promise<{ open: number, kibPerConn: number, error?: string }>}
 */
async function idleConnections(ctx, rp, port, script, count) {
  const pid = /** @type {number} */ (rp.pid());
  await sleep(ctx.opts.quick ? 300 : 1000); // let the proxy free what the last step left
  const before = rssKiB(processTree(pid));
  const proc = ctx.group.start({ name: script, cmd: process.execPath, args: [client(script), String(port), String(count), '256'], cpus: LOADGEN_CPUS, stdin: true });
  try {
    const r = await waitForJsonLine(proc, 'ready', 60_000);
    await sleep(ctx.opts.quick ? 300 : 1500);
    const after = rssKiB(processTree(pid));
    const mark = proc.output().length;
    proc.child.stdin?.write('count\n');
    const { open } = await waitForJsonLine(proc, 'count', 5000, mark);
    return { open, kibPerConn: open > 0 ? (after - before) / open : NaN, ...(r.failed > 0 ? { error: `${r.failed} failed (${r.firstError})` } : {}) };
  } catch (err) {
    return { open: 0, kibPerConn: NaN, error: /** @type {Error} */ (err).message };
  } finally {
    await ctx.group.stop(proc, 2000);
  }
}
