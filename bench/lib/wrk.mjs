// wrk as a load generator: builds the command (with a Lua script that prints a JSON summary,
// since wrk's text output has no p99.9) and parses what it prints.
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { noResumeShim } from './no-resume-shim.mjs';

/**
 * @typedef {object} Target   where a load generator points, and for how long
 * @property {string} host    always 127.0.0.1
 * @property {number} port
 * @property {number} durationS
 * @property {string} dir     a temp dir for scripts
 * @property {boolean} [tls]  the port speaks TLS: load goes to https://
 */

/**
 * @typedef {object} LoadResult
 * @property {number} requests
 * @property {number} durationS
 * @property {number} rps
 * @property {number} p50Ms
 * @property {number} p99Ms
 * @property {number} p999Ms   NaN when the tool did not report it
 * @property {{ status: number, connect: number, read: number, write: number, timeout: number }} errors
 * @property {number} errorsTotal  non-2xx/3xx responses plus socket errors
 */

/**
 * @typedef {object} LoadCommand
 * @property {string} cmd
 * @property {string[]} args
 * @property {string} describe            the command line as a person would type it
 * @property {Record<string, string>} [env] added to the harness's environment for the command
 * @property {(stdout: string) => LoadResult} parse
 */

/**
 * @typedef {object} WrkOptions
 * @property {number} connections
 * @property {string} [path]                    default "/"
 * @property {Record<string, string>} [headers]
 * @property {string} [method]                  default GET
 * @property {number} [bodyBytes]               request body of this many bytes ("x")
 * @property {number} [threads]                 default 1
 * @property {number} [timeoutS]                default 10
 * @property {boolean} [fullHandshakes]         over TLS, never resume a session on reconnect (see no-resume-shim.mjs)
 */

const DONE_LUA = `
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('WRK_JSON {"requests":%d,"duration_us":%d,"bytes":%d,"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d,"p50_us":%.1f,"p99_us":%.1f,"p999_us":%.1f,"max_us":%.1f}\\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99), latency:percentile(99.9), latency.max))
end
`;

/**
 * The Lua script for `o`: request setup (method, headers, body) plus the JSON `done`.
 * @param {WrkOptions} o
 */
export function wrkScript(o) {
  const lines = [];
  if (o.method) lines.push(`wrk.method = ${JSON.stringify(o.method)}`);
  for (const [k, v] of Object.entries(o.headers ?? {})) lines.push(`wrk.headers[${JSON.stringify(k)}] = ${JSON.stringify(v)}`);
  if (o.bodyBytes) {
    lines.push(`wrk.body = string.rep("x", ${o.bodyBytes})`);
    lines.push('wrk.headers["Content-Type"] = "application/octet-stream"');
  }
  return `${lines.join('\n')}\n${DONE_LUA}`;
}

/**
 * A wrk run against `t` with options `o`. Writes its Lua script into `t.dir`.
 * @param {Target} t
 * @param {WrkOptions} o
 * @returns {LoadCommand}
 */
export function wrk(t, o) {
  const script = wrkScript(o);
  const file = join(t.dir, `wrk-${createHash('sha1').update(script).digest('hex').slice(0, 10)}.lua`);
  writeFileSync(file, script);
  const flags = [`-t${o.threads ?? 1}`, `-c${o.connections}`, `-d${Math.max(1, Math.round(t.durationS))}s`, `--timeout`, `${o.timeoutS ?? 10}s`];
  const url = `${t.tls ? 'https' : 'http'}://${t.host}:${t.port}${o.path ?? '/'}`;
  const shown = [...flags];
  for (const [k, v] of Object.entries(o.headers ?? {})) shown.push('-H', `'${k}: ${v}'`);
  if (o.method) shown.push(`(${o.method}${o.bodyBytes ? ` ${o.bodyBytes} B body` : ''} via Lua)`);
  if (o.fullHandshakes && !t.tls) throw new Error('fullHandshakes needs a TLS target');
  const preload = o.fullHandshakes ? noResumeShim(t.dir) : null;
  return {
    cmd: 'wrk',
    args: [...flags, '-s', file, url],
    describe: `${preload ? 'LD_PRELOAD=no-resume.so ' : ''}wrk ${shown.join(' ')} ${url.replace(/:\d+/, ':PORT')}`,
    ...(preload ? { env: { LD_PRELOAD: preload } } : {}),
    parse: parseWrkOutput,
  };
}

/**
 * A wrk duration such as "812.34us", "1.20ms", "2.01s" or "1.50m", in milliseconds.
 * @param {string} s
 */
export function wrkTimeMs(s) {
  const m = /^([\d.]+)(us|ms|s|m|h)$/.exec(s.trim());
  if (!m) return Number.NaN;
  const n = Number(m[1]);
  return { us: n / 1000, ms: n, s: n * 1000, m: n * 60000, h: n * 3600000 }[/** @type {'us'|'ms'|'s'|'m'|'h'} */ (m[2])];
}

/**
 * Parses wrk's output: the `WRK_JSON` line from our Lua `done` when present, else wrk's own
 * text (`--latency` gives p50/p99, no p99.9).
 * @param {string} out
 * @returns {LoadResult}
 */
export function parseWrkOutput(out) {
  const json = /^WRK_JSON (\{.*\})$/m.exec(out);
  if (json) {
    const j = JSON.parse(json[1]);
    const durationS = j.duration_us / 1e6;
    const errors = { status: j.status, connect: j.connect, read: j.read, write: j.write, timeout: j.timeout };
    return {
      requests: j.requests,
      durationS,
      rps: durationS > 0 ? j.requests / durationS : 0,
      p50Ms: j.p50_us / 1000,
      p99Ms: j.p99_us / 1000,
      p999Ms: j.p999_us / 1000,
      errors,
      errorsTotal: errors.status + errors.connect + errors.read + errors.write + errors.timeout,
    };
  }
  const total = /(\d+) requests in ([\d.]+\w+),/.exec(out);
  if (!total) throw new Error(`cannot parse wrk output: ${out.trim().split('\n').slice(-3).join(' | ') || '(empty)'}`);
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const errors = {
    status: Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0),
    connect: Number(sock?.[1] ?? 0),
    read: Number(sock?.[2] ?? 0),
    write: Number(sock?.[3] ?? 0),
    timeout: Number(sock?.[4] ?? 0),
  };
  const pct = (/** @type {string} */ p) => {
    const m = new RegExp(`^\\s+${p.replace('.', '\\.')}%\\s+(\\S+)`, 'm').exec(out);
    return m ? wrkTimeMs(m[1]) : Number.NaN;
  };
  return {
    requests: Number(total[1]),
    durationS: wrkTimeMs(total[2]) / 1000,
    rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? 0),
    p50Ms: pct('50'),
    p99Ms: pct('99'),
    p999Ms: Number.NaN,
    errors,
    errorsTotal: errors.status + errors.connect + errors.read + errors.write + errors.timeout,
  };
}
