// The load balancer's upstream reuse counters: preferably the `pool stats` line it logs to its
// error log on SIGTERM, else counted from its access log (`"reused":true|false` per request).
// When both exist, the access log's count rides along as a cross-check.
import { createReadStream, existsSync } from 'node:fs';
import { createInterface } from 'node:readline';

/**
 * @param {{ errorLog: string, accessLog?: string }} files
 * @returns {Promise<import('../peers/peer.mjs').PoolStats | null>}
 */
export async function readPoolStats({ errorLog, accessLog }) {
  // One line per process that had a pool (workers each log theirs): the last one per pid, summed.
  /** @type {Map<unknown, { newConnections: number, reusedConnections: number }>} */
  const byPid = new Map();
  await eachLine(errorLog, (line) => {
    if (!line.includes('"pool stats"')) return;
    try {
      const j = JSON.parse(line);
      if (j.msg === 'pool stats' && Number.isFinite(j.newConnections) && Number.isFinite(j.reusedConnections)) {
        byPid.set(j.pid, { newConnections: j.newConnections, reusedConnections: j.reusedConnections });
      }
    } catch {
      // not JSON: ignore
    }
  });
  const fromAccess = accessLog ? await countAccessLog(accessLog) : null;
  if (byPid.size > 0) {
    /** @type {import('../peers/peer.mjs').PoolStats} */
    const sum = { source: 'pool stats', newConnections: 0, reusedConnections: 0 };
    for (const s of byPid.values()) {
      sum.newConnections += s.newConnections;
      sum.reusedConnections += s.reusedConnections;
    }
    if (fromAccess) sum.accessLog = fromAccess;
    return sum;
  }
  return fromAccess ? { source: 'access log', ...fromAccess } : null;
}

/**
 * `"reused":false` lines are requests on a new upstream connection, `"reused":true` on a pooled one.
 * @param {string} file
 */
async function countAccessLog(file) {
  let fresh = 0;
  let reused = 0;
  await eachLine(file, (line) => {
    if (line.includes('"reused":false')) fresh++;
    else if (line.includes('"reused":true')) reused++;
  });
  return fresh + reused > 0 ? { newConnections: fresh, reusedConnections: reused } : null;
}

/**
 * @param {string} file
 * @param {(line: string) => void} fn
 */
async function eachLine(file, fn) {
  if (!existsSync(file)) return;
  const rl = createInterface({ input: createReadStream(file), crlfDelay: Infinity });
  for await (const line of rl) fn(line);
}
