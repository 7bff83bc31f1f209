// CPU time and memory of a process and its descendants, read from /proc (Linux only).
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

/** Clock ticks per second, for /proc/<pid>/stat utime and stime. */
export const CLK_TCK = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/**
 * Splits /proc/<pid>/stat after the command name (which may hold spaces and parens).
 * @param {number} pid
 * @returns {string[] | null} fields from field 3 (state) on, or null when the process is gone
 */
function statFields(pid) {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return s.slice(s.lastIndexOf(')') + 2).split(' ');
  } catch {
    return null;
  }
}

/**
 * `pid` and all its descendants (worker processes, when a peer forks).
 * @param {number} pid
 * @returns {number[]}
 */
export function processTree(pid) {
  /** @type {Map<number, number[]>} */
  const children = new Map();
  for (const name of readdirSync('/proc')) {
    const p = Number(name);
    if (!Number.isInteger(p)) continue;
    const f = statFields(p);
    if (!f) continue;
    const ppid = Number(f[1]);
    const list = children.get(ppid);
    if (list) list.push(p);
    else children.set(ppid, [p]);
  }
  const out = [];
  const todo = [pid];
  while (todo.length > 0) {
    const p = /** @type {number} */ (todo.pop());
    if (!statFields(p)) continue;
    out.push(p);
    todo.push(...(children.get(p) ?? []));
  }
  return out;
}

/**
 * utime + stime of `pids`, in clock ticks (threads included; exited processes count 0).
 * @param {number[]} pids
 */
export function cpuTicks(pids) {
  let ticks = 0;
  for (const pid of pids) {
    const f = statFields(pid);
    // Fields 14 and 15 (utime, stime) are at 11 and 12 once the first two are dropped.
    if (f) ticks += Number(f[11]) + Number(f[12]);
  }
  return ticks;
}

/**
 * Resident set size of `pids` summed, in KiB (VmRSS from /proc/<pid>/status).
 * @param {number[]} pids
 */
export function rssKiB(pids) {
  let kib = 0;
  for (const pid of pids) {
    try {
      const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
      if (m) kib += Number(m[1]);
    } catch {
      // gone
    }
  }
  return kib;
}
