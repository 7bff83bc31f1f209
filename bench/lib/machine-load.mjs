// How busy the machine was with work that is not the bench's: CPU time of every process
// (/proc/stat user+nice+system) minus the CPU time of the harness and all its children.
import { readFileSync } from 'node:fs';
import { CLK_TCK, cpuTicks, processTree } from './proc-stats.mjs';

/**
 * @typedef {object} CpuSnapshot
 * @property {number} busy   user+nice+system ticks of the whole machine
 * @property {number} ours   ticks of this process, its reaped children and its live descendants
 * @property {number} at     ms
 */

/** @returns {CpuSnapshot} */
export function cpuSnapshot() {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  const self = readFileSync(`/proc/${process.pid}/stat`, 'utf8');
  const s = self.slice(self.lastIndexOf(')') + 2).split(' ').map(Number);
  // utime, stime, cutime, cstime are fields 14-17: 11-14 once pid and comm are dropped.
  const children = processTree(process.pid).filter((p) => p !== process.pid);
  return { busy: f[0] + f[1] + f[2], ours: s[11] + s[12] + s[13] + s[14] + cpuTicks(children), at: Date.now() };
}

/**
 * CPU used by other processes between two snapshots, as % of one core (up to 100 × cores);
 * NaN for less than a second.
 * @param {CpuSnapshot} a
 * @param {CpuSnapshot} b
 */
export function otherCpuPct(a, b) {
  const wallS = (b.at - a.at) / 1000;
  // Ticks are 10 ms: below a second the figure is mostly rounding.
  if (wallS < 1) return Number.NaN;
  return Math.max(0, ((b.busy - a.busy - (b.ours - a.ours)) / CLK_TCK / wallS) * 100);
}
