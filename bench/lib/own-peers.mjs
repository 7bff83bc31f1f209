// A scenario's own peers: the protocol scenarios need another backend (a gRPC server, a
// WebSocket echo server) and other proxy configs (h2c listeners, grpc_pass), so they start
// private instances for their run instead of using the peers started for the whole run.
import { fileURLToPath } from 'node:url';
import { LOADGEN_CPUS } from './measure-load.mjs';
import { waitForJsonLine } from './wait-for-json-line.mjs';

/**
 * @typedef {object} OwnPeers
 * @property {import('./start-peer.mjs').RunningPeer[]} running
 * @property {Array<{ name: string, label: string, reason: string }>} skipped  peers that did not start or failed the probe
 * @property {{ port: number }} backend
 * @property {() => Promise<void>} stop   stops the peers, then the backend
 */

/**
 * Starts a backend program from bench/peers/servers/ (it prints {"event":"listening","port":N})
 * on the load generator's CPU. `info` is that whole line (a server may print more ports).
 * @param {import('../scenarios/scenario.mjs').ScenarioContext} ctx
 * @param {string} server  file name in peers/servers/
 * @param {string[]} [args]
 */
export async function startBackend(ctx, server, args = []) {
  const script = fileURLToPath(new URL(`../peers/servers/${server}`, import.meta.url));
  const proc = ctx.group.start({ name: server.replace(/\.mjs$/, ''), cmd: process.execPath, args: [script, ...args], cpus: LOADGEN_CPUS });
  try {
    const info = await waitForJsonLine(proc, 'listening', 10_000);
    return { proc, port: /** @type {number} */ (info.port), info };
  } catch (err) {
    await ctx.group.stop(proc, 1000);
    throw err;
  }
}

/**
 * Which of `peers` this run wants: all of them, or those `--peers` names plus the reference.
 * @param {import('../lib/bench-options.mjs').BenchOptions} opts
 * @param {import('../peers/peer.mjs').Peer[]} peers
 * @param {string} reference
 */
export function wantedPeers(opts, peers, reference) {
  return peers.filter((p) => !opts.peers || opts.peers.includes(p.name) || p.name === reference);
}

/**
 * Starts `server` (when given) and then every wanted peer in front of it (or of the run's
 * upstream), in parallel; a peer that fails to start or fails its probe is skipped with the reason.
 * @param {import('../scenarios/scenario.mjs').ScenarioContext} ctx
 * @param {{ peers: import('../peers/peer.mjs').Peer[], reference: string, server?: string }} o
 * @returns {Promise<OwnPeers>}
 */
export async function startOwnPeers(ctx, { peers, reference, server }) {
  const backend = server ? await startBackend(ctx, server) : null;
  const upstream = backend ? { port: backend.port } : ctx.upstream;
  const wanted = wantedPeers(ctx.opts, peers, reference);
  const starts = await Promise.allSettled(wanted.map((p) => ctx.startPeer(p, { upstream })));
  /** @type {OwnPeers} */
  const own = {
    running: [],
    skipped: [],
    backend: upstream,
    stop: async () => {
      await Promise.all(own.running.map((rp) => ctx.stopPeer(rp)));
      if (backend) await ctx.group.stop(backend.proc, 2000);
    },
  };
  wanted.forEach((peer, i) => {
    const r = /** @type {PromiseSettledResult<import('./start-peer.mjs').RunningPeer>} */ (starts[i]);
    if (r.status === 'fulfilled') {
      own.running.push(r.value);
    } else {
      const reason = r.reason instanceof Error ? r.reason.message : String(r.reason);
      own.skipped.push({ name: peer.name, label: peer.label, reason });
      ctx.log(`  ${peer.name}: skipped: ${reason}`);
    }
  });
  return own;
}
