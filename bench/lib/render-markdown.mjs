// The results as Markdown: run facts, the ratio summary, one table per scenario, the peers.
import { cell, duration, int, num, ratio } from './format.mjs';

/**
 * @typedef {object} PeerInfo
 * @property {string} name
 * @property {string} label
 * @property {string} cpus
 * @property {string} config
 * @property {string | null} skipped   why it did not run, or null
 */

/**
 * @typedef {object} BenchResults
 * @property {{
 *   date: string, mode: 'full' | 'quick', rounds: number, durationS: number, warmupS: number, idleConns: number,
 *   runSeconds: number, otherCpuPct: number, noisyPct: number, pinning: string, machine: ReturnType<typeof import('./machine-info.mjs').machineInfo>,
 *   peers: PeerInfo[], wholeRunPoolStats: Array<{ peer: string } & import('../peers/peer.mjs').PoolStats>, reference: string,
 * }} meta
 * @property {import('../scenarios/scenario.mjs').Section[]} sections
 */

/**
 * @param {string[]} head
 * @param {Array<Array<string | number>>} rows
 */
export function mdTable(head, rows) {
  const numeric = (/** @type {number} */ i) => i > 0 && rows.length > 0 && rows.every((r) => typeof r[i] === 'number' || /^[-\d.,%x×]*$/.test(String(r[i] ?? '')));
  const align = head.map((_, i) => (numeric(i) ? '---:' : '---'));
  return [`| ${head.join(' | ')} |`, `|${align.join('|')}|`, ...rows.map((r) => `| ${r.map(cell).join(' | ')} |`)].join('\n');
}

/** One line saying what kind of run this was. @param {BenchResults} res */
export function runLine(res) {
  const m = res.meta;
  const how = `${m.rounds} round${m.rounds > 1 ? 's' : ''} of ${m.durationS} s per scenario and peer, interleaved${m.warmupS ? `, after a ${m.warmupS} s warm-up` : ', no warm-up'}; medians`;
  return m.mode === 'quick'
    ? `**Quick run** (\`pnpm bench --quick\`: ${how}). A smoke test of the harness, not a result: run \`pnpm bench\` for numbers.`
    : `**Full run** (\`pnpm bench\`: ${how}).`;
}

/**
 * The req/s-ratio-to-nginx matrix: one row per load scenario, one column per peer that ran.
 * @param {BenchResults} res
 */
export function summaryTable(res) {
  // Only the rows whose ratios are to the run's reference (a protocol scenario may use direct).
  const loads = /** @type {import('../scenarios/scenario.mjs').LoadSection[]} */ (
    res.sections.filter((s) => s.kind === 'load' && (s.reference ?? res.meta.reference) === res.meta.reference)
  );
  if (loads.length === 0) return `No scenario in this run has ratios to ${res.meta.reference}.`;
  const peers = res.meta.peers.filter((p) => !p.skipped);
  const rows = loads.map((s) => [s.title, ...peers.map((p) => ratio(s.rows.find((r) => r.peer === p.name)?.ratio ?? NaN))]);
  return mdTable(['scenario', ...peers.map((p) => p.label)], rows);
}

/** Short facts line for the README. @param {BenchResults} res */
export function factsLine(res) {
  const { machine: mc, date } = res.meta;
  return `${date.slice(0, 10)}, commit \`${(mc.commit ?? 'unknown').slice(0, 7)}\`, node ${mc.node}, ${mc.cpu} × ${mc.cores} cores, nginx ${mc.nginx ?? '-'}, HAProxy ${mc.haproxy ?? '-'}`;
}

/**
 * @param {BenchResults} res
 * @param {string} svgName  the chart's file name, relative to the Markdown file
 */
export function renderMarkdown(res, svgName) {
  const m = res.meta;
  const mc = m.machine;
  const out = [
    '# pingora-ts benchmark results',
    '',
    '<!-- written by bench/run.mjs: do not edit by hand -->',
    '',
    runLine(res),
    '',
    mdTable(
      ['', ''],
      [
        ['date', m.date],
        ['commit', mc.commit ? `\`${mc.commit}\`` : 'unknown'],
        ['node', mc.node],
        ['CPU', `${mc.cpu}, ${mc.cores} cores, Linux ${mc.kernel}`],
        ['nginx / HAProxy / wrk', `${mc.nginx ?? '-'} / ${mc.haproxy ?? '-'} / ${mc.wrk ?? '-'}`],
        ['pinning', m.pinning],
        ['run time', duration(m.runSeconds)],
        ['other load', `processes outside the bench used ${int(m.otherCpuPct)}% of one core on average during the run${m.otherCpuPct > m.noisyPct ? ' (**noisy**: compare with care)' : ''}`],
      ],
    ),
    '',
    `## req/s relative to ${m.reference} (higher is better)`,
    '',
    summaryTable(res),
    '',
    `![req/s relative to ${m.reference}, per scenario](${svgName})`,
    '',
  ];
  for (const s of res.sections) {
    out.push(`## ${s.title}`, '', `${s.measures}.`, '');
    if (Number.isFinite(s.otherCpuPct) && /** @type {number} */ (s.otherCpuPct) > m.noisyPct) {
      out.push(`Other processes used ${int(/** @type {number} */ (s.otherCpuPct))}% of one core during this scenario: **noisy**.`, '');
    }
    if (s.kind === 'load') {
      out.push(`Load: \`${s.command}\` (${s.connections} connection${s.connections === 1 ? '' : 's'}; ${s.payload}).`, '');
      out.push(
        mdTable(
          ['proxy', s.unit ?? 'req/s', `vs ${s.reference ?? m.reference}`, 'p50 ms', 'p99 ms', 'p99.9 ms', 'errors', 'CPU %', 'RSS max MiB'],
          s.rows.map((r) =>
            r.skipped
              ? [r.label, `skipped: ${r.skipped}`, '-', '-', '-', '-', '-', '-', '-']
              : r.failed && r.rounds.length === 0
              ? [r.label, `failed: ${r.failed}`, '-', '-', '-', '-', '-', '-', '-']
              : [r.label, int(r.rps), ratio(r.ratio), num(r.p50Ms), num(r.p99Ms), num(r.p999Ms), int(r.errors), int(r.cpuPct), num(r.rssMaxMiB)],
          ),
        ),
        '',
      );
    } else {
      out.push(mdTable(s.columns, s.rows), '');
    }
    if (s.notes.length > 0) out.push(...s.notes.map((n) => `- ${n}`), '');
  }
  if (m.wholeRunPoolStats.length > 0) {
    out.push('## pingora-ts pool counters over the whole run', '');
    out.push(
      mdTable(
        ['peer', 'new upstream conns', 'reused', 'reuse ratio', 'counted from'],
        m.wholeRunPoolStats.map((p) => [p.peer, p.newConnections, p.reusedConnections, `${((p.reusedConnections / (p.newConnections + p.reusedConnections)) * 100).toFixed(2)}%`, p.source]),
      ),
      '',
    );
  }
  out.push('## Peers', '');
  out.push(mdTable(['peer', 'CPUs', 'setup'], m.peers.map((p) => [p.label, p.cpus, p.skipped ? `**skipped**: ${p.skipped}` : p.config])));
  out.push('');
  out.push(
    `Errors are non-2xx responses plus socket errors (connect, read, write, timeout), summed over the measured rounds. ` +
      `CPU % is utime+stime of the proxy's processes over each round, as % of one core (median round). ` +
      `RSS max is the highest sum of the proxy processes' VmRSS, sampled every 200 ms. The direct row has no proxy process.`,
    '',
  );
  return out.join('\n');
}
