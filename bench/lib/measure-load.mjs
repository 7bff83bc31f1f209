// One load-generator run against one peer, with the peer's CPU time and peak RSS around it.
import { cpuTicks, CLK_TCK, processTree, rssKiB } from './proc-stats.mjs';
import { tail } from './wait-for-http.mjs';

/** CPU the load generator runs on (with the upstream). */
export const LOADGEN_CPUS = '0';

/**
 * @typedef {object} Measurement
 * @property {import('./wrk.mjs').LoadResult} result
 * @property {number} cpuPct      utime+stime of the proxy processes over the run, % of one core (NaN for direct)
 * @property {number} rssMaxKiB   the proxy processes' summed RSS, max of samples every 200 ms (NaN for direct)
 * @property {number} processes   how many processes the proxy ran as (0 for direct)
 */

/**
 * @param {import('./process-group.mjs').ProcessGroup} group
 * @param {import('./start-peer.mjs').RunningPeer} rp
 * @param {import('./wrk.mjs').LoadCommand} command
 * @returns {Promise<Measurement>}
 */
export async function measureLoad(group, rp, command) {
  const mainPid = rp.pid();
  if (rp.proc && !rp.proc.alive()) throw new Error(`${rp.peer.name} is not running any more: ${tail(rp.proc.output())}`);
  const pids = mainPid ? processTree(mainPid) : [];
  let rssMax = pids.length > 0 ? rssKiB(pids) : Number.NaN;
  const sampler = setInterval(() => {
    if (pids.length > 0) rssMax = Math.max(rssMax, rssKiB(processTree(/** @type {number} */ (mainPid))));
  }, 200);
  const t0 = process.hrtime.bigint();
  const ticks0 = cpuTicks(pids);
  const env = command.env ? { ...process.env, ...command.env } : undefined;
  const gen = group.start({ name: command.cmd, cmd: command.cmd, args: command.args, cpus: LOADGEN_CPUS, env });
  const code = await gen.exited;
  const after = mainPid ? processTree(mainPid) : [];
  const ticks1 = cpuTicks(after);
  const wallS = Number(process.hrtime.bigint() - t0) / 1e9;
  clearInterval(sampler);
  if (code !== 0) throw new Error(`${command.cmd} exited with ${code}: ${tail(gen.output())}`);
  const result = command.parse(gen.output());
  return {
    result,
    cpuPct: pids.length > 0 ? (((ticks1 - ticks0) / CLK_TCK) * 100) / wallS : Number.NaN,
    rssMaxKiB: rssMax,
    processes: Math.max(pids.length, after.length),
  };
}
