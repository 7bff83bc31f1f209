// A load generator written in Node (bench/clients/*.mjs), run in its own process like wrk.
// Each client prints one JSON line when done:
//   {"event":"done","requests":N,"durationS":S,"p50Ms":…,"p99Ms":…,"p999Ms":…,
//    "errors":{"status":N,"connect":N,"read":N,"write":N,"timeout":N},"firstError":"…"}
import { fileURLToPath } from 'node:url';
import { percentile } from './h2load.mjs';

/**
 * @param {string} client     file name in bench/clients/
 * @param {string[]} args     its arguments after the port and the duration
 * @param {import('./wrk.mjs').Target} t
 * @returns {import('./wrk.mjs').LoadCommand}
 */
export function nodeClient(client, args, t) {
  const script = fileURLToPath(new URL(`../clients/${client}`, import.meta.url));
  const duration = String(Math.max(1, Math.round(t.durationS)));
  return {
    cmd: process.execPath,
    args: [script, String(t.port), duration, ...args],
    describe: `node clients/${client} PORT ${duration} ${args.join(' ')}`.trim(),
    parse: parseClientOutput,
  };
}

/**
 * @param {string} out
 * @returns {import('./wrk.mjs').LoadResult}
 */
export function parseClientOutput(out) {
  const m = /^(\{"event":"done".*\})$/m.exec(out);
  if (!m) throw new Error(`no "done" line from the client: ${out.trim().split('\n').slice(-3).join(' | ') || '(empty)'}`);
  const j = JSON.parse(m[1]);
  const errors = { status: 0, connect: 0, read: 0, write: 0, timeout: 0, ...j.errors };
  const errorsTotal = errors.status + errors.connect + errors.read + errors.write + errors.timeout;
  if (j.requests === 0 && errorsTotal > 0) throw new Error(`every call failed: ${j.firstError}`);
  return {
    requests: j.requests,
    durationS: j.durationS,
    rps: j.durationS > 0 ? j.requests / j.durationS : 0,
    p50Ms: j.p50Ms ?? Number.NaN,
    p99Ms: j.p99Ms ?? Number.NaN,
    p999Ms: j.p999Ms ?? Number.NaN,
    errors,
    errorsTotal,
  };
}

/**
 * Latency summary for a client's "done" line: milliseconds in, p50/p99/p99.9 out.
 * @param {number[]} ms
 */
export function latencySummary(ms) {
  const sorted = Float64Array.from(ms).sort();
  return { p50Ms: percentile(sorted, 50), p99Ms: percentile(sorted, 99), p999Ms: percentile(sorted, 99.9) };
}
