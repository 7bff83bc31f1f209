// h2load (nghttp2) as a load generator for HTTP/2: builds the command and parses what it
// prints. h2load reports no percentiles, so it also writes one line per request to a log
// file (`--log-file`), from which p50/p99/p99.9 are taken.
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';

/**
 * @typedef {object} H2loadOptions
 * @property {number} clients        connections (`-c`)
 * @property {number} streams        concurrent streams per connection (`-m`)
 * @property {string} [path]         default "/"
 */

let seq = 0;

/**
 * An h2load run against `t` over h2c (prior knowledge: `http://`), for `t.durationS` seconds.
 * @param {import('./wrk.mjs').Target} t
 * @param {H2loadOptions} o
 * @returns {import('./wrk.mjs').LoadCommand}
 */
export function h2load(t, o) {
  const log = join(t.dir, `h2load-${process.pid}-${++seq}.log`);
  const flags = [`-c${o.clients}`, `-m${o.streams}`, '-t1', `-D${Math.max(1, Math.round(t.durationS))}`];
  const url = `${t.tls ? 'https' : 'http'}://${t.host}:${t.port}${o.path ?? '/'}`;
  return {
    cmd: 'h2load',
    args: [...flags, `--log-file=${log}`, url],
    describe: `h2load ${flags.join(' ')} ${url.replace(/:\d+/, ':PORT')}`,
    parse: (out) => {
      const lines = existsSync(log) ? readFileSync(log, 'utf8') : '';
      rmSync(log, { force: true });
      return parseH2loadOutput(out, lines);
    },
  };
}

/**
 * Percentile of sorted numbers (nearest rank).
 * @param {Float64Array | number[]} sorted
 * @param {number} p  0..100
 */
export function percentile(sorted, p) {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

/**
 * Parses h2load's summary, plus its `--log-file` lines (start µs, status, µs to the end of the
 * response; status -1 for a failed stream) for the percentiles. req/s counts 2xx and 3xx
 * responses only, so a peer that fails every stream does not look fast.
 * @param {string} out
 * @param {string} [logLines]
 * @returns {import('./wrk.mjs').LoadResult}
 */
export function parseH2loadOutput(out, logLines = '') {
  const fin = /finished in ([\d.]+)(us|ms|s),/.exec(out);
  const req = /requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored, (\d+) timeout/.exec(out);
  const codes = /status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx/.exec(out);
  if (!fin || !req || !codes) throw new Error(`cannot parse h2load output: ${out.trim().split('\n').slice(-3).join(' | ') || '(empty)'}`);
  const durationS = Number(fin[1]) / { us: 1e6, ms: 1e3, s: 1 }[/** @type {'us'|'ms'|'s'} */ (fin[2])];
  const ok = Number(codes[1]) + Number(codes[2]);
  const errors = { status: Number(codes[3]) + Number(codes[4]), connect: 0, read: Number(req[5]) + Number(req[6]), write: 0, timeout: Number(req[7]) };
  const times = [];
  for (const line of logLines.split('\n')) {
    const f = line.split('\t');
    if (f.length >= 3 && Number(f[1]) >= 200 && Number(f[1]) < 400) times.push(Number(f[2]) / 1000);
  }
  const sorted = Float64Array.from(times).sort();
  return {
    requests: ok,
    durationS,
    rps: durationS > 0 ? ok / durationS : 0,
    p50Ms: percentile(sorted, 50),
    p99Ms: percentile(sorted, 99),
    p999Ms: percentile(sorted, 99.9),
    errors,
    errorsTotal: errors.status + errors.read + errors.timeout,
  };
}
