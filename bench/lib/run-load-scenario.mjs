// Runs a load scenario over the running peers: warm-up, then rounds interleaved across peers
// (round 1: every peer, round 2: every peer, ...; the order rotates each round), medians.
import { REFERENCE } from '../peers/index.mjs';
import { measureLoad } from './measure-load.mjs';
import { median } from './median.mjs';

/**
 * @param {import('../scenarios/scenario.mjs').LoadScenario} scenario
 * @param {import('../scenarios/scenario.mjs').ScenarioContext} ctx
 * @returns {Promise<import('../scenarios/scenario.mjs').LoadSection>}
 */
export async function runLoadScenario(scenario, ctx) {
  // A protocol scenario runs against its own instances, stopped once it is done.
  const own = scenario.setup ? await scenario.setup(ctx) : null;
  try {
    return await runRounds(scenario, ctx, own);
  } finally {
    await own?.stop();
  }
}

/**
 * Called before each measured run of a peer; what it returns is called with the measurement
 * (a custom scenario reads a counter around each run: the cache-hit scenario counts origin requests).
 * @typedef {(rp: import('./start-peer.mjs').RunningPeer) => (m: import('./measure-load.mjs').Measurement) => void} Observe
 */

/**
 * The warm-up and the interleaved rounds of `scenario` over `own`'s peers (or the run's), as a
 * load section. Custom scenarios that run several loads over one set of peers call it directly.
 * @param {import('../scenarios/scenario.mjs').LoadScenario} scenario
 * @param {import('../scenarios/scenario.mjs').ScenarioContext} ctx
 * @param {import('./own-peers.mjs').OwnPeers | null} own
 * @param {Observe} [observe]
 * @returns {Promise<import('../scenarios/scenario.mjs').LoadSection>}
 */
export async function runRounds(scenario, ctx, own, observe) {
  const { opts, group, dir } = ctx;
  const reference = scenario.reference ?? REFERENCE;
  // A TLS scenario runs against the peers' HTTPS listeners (peers without one sit it out).
  const tls = scenario.tls ?? false;
  const peers = (own?.running ?? ctx.running).filter((rp) => (scenario.peers?.(rp.peer) ?? true) && (!tls || rp.tls));
  const target = (/** @type {number} */ port, /** @type {number} */ durationS) => ({ host: '127.0.0.1', port, durationS, dir, tls });
  const portOf = (/** @type {import('./start-peer.mjs').RunningPeer} */ rp) => (tls ? /** @type {{ port: number }} */ (rp.tls).port : rp.port);
  const command = scenario.load(target(0, opts.durationS)).describe;
  /** @type {Map<string, { runs: import('./measure-load.mjs').Measurement[], failed?: string }>} */
  const byPeer = new Map(peers.map((rp) => [rp.peer.name, { runs: [] }]));

  const once = async (/** @type {import('./start-peer.mjs').RunningPeer} */ rp, /** @type {number} */ durationS, /** @type {boolean} */ keep) => {
    const slot = /** @type {{ runs: import('./measure-load.mjs').Measurement[], failed?: string }} */ (byPeer.get(rp.peer.name));
    if (slot.failed) return;
    try {
      const after = keep ? observe?.(rp) : undefined;
      const m = await measureLoad(group, rp, scenario.load(target(portOf(rp), durationS)));
      after?.(m);
      if (keep) slot.runs.push(m);
      return m;
    } catch (err) {
      slot.failed = /** @type {Error} */ (err).message;
      ctx.log(`  ${rp.peer.name}: failed: ${slot.failed}`);
    }
  };

  if (opts.warmupS > 0) {
    ctx.log(`  warm-up ${opts.warmupS} s per peer`);
    for (const rp of peers) await once(rp, opts.warmupS, false);
  }
  for (let r = 0; r < opts.rounds; r++) {
    const order = peers.map((_, i) => peers[(i + r) % peers.length]);
    const line = [];
    for (const rp of order) {
      const m = await once(rp, opts.durationS, true);
      if (m) line.push(`${rp.peer.name} ${Math.round(m.result.rps)}`);
    }
    ctx.log(`  round ${r + 1}/${opts.rounds}: ${line.join(', ')}`);
  }

  /** @type {import('../scenarios/scenario.mjs').LoadRow[]} */
  const rows = peers.map((rp) => {
    const { runs, failed } = /** @type {{ runs: import('./measure-load.mjs').Measurement[], failed?: string }} */ (byPeer.get(rp.peer.name));
    const pick = (/** @type {(m: import('./measure-load.mjs').Measurement) => number} */ f) => median(runs.map(f));
    return {
      peer: rp.peer.name,
      label: rp.peer.label,
      rps: pick((m) => m.result.rps),
      ratio: Number.NaN,
      p50Ms: pick((m) => m.result.p50Ms),
      p99Ms: pick((m) => m.result.p99Ms),
      p999Ms: pick((m) => m.result.p999Ms),
      errors: runs.reduce((a, m) => a + m.result.errorsTotal, 0),
      cpuPct: pick((m) => m.cpuPct),
      rssMaxMiB: runs.length > 0 ? Math.max(...runs.map((m) => m.rssMaxKiB)) / 1024 : Number.NaN,
      ...(failed && runs.length < opts.rounds ? { failed } : {}),
      processes: Math.max(0, ...runs.map((m) => m.processes)),
      rounds: runs.map((m) => ({ rps: m.result.rps, p99Ms: m.result.p99Ms, cpuPct: m.cpuPct, errors: m.result.errors })),
    };
  });
  for (const s of own?.skipped ?? []) rows.push(skippedRow(s));
  const ref = rows.find((r) => r.peer === reference)?.rps ?? Number.NaN;
  for (const row of rows) row.ratio = row.rps / ref;
  return {
    kind: 'load',
    name: scenario.name,
    title: scenario.title,
    measures: scenario.measures,
    connections: scenario.connections,
    payload: scenario.payload,
    command,
    ...(scenario.unit ? { unit: scenario.unit } : {}),
    ...(scenario.reference ? { reference: scenario.reference } : {}),
    // The chart shows ratios to the run's reference only.
    inChart: (scenario.inChart ?? true) && reference === REFERENCE,
    rows,
    notes: [
      ...(scenario.notes ?? []),
      ...(tls ? [negotiatedNote(peers), ...ctx.running.filter((rp) => rp.tlsError).map((rp) => `${rp.peer.label}: no HTTPS listener (${rp.tlsError})`)] : []),
      ...(scenario.notesFrom?.(rows) ?? []),
      // Its own peers are not in the run's peer table: say how each was set up.
      ...(own ? peers.map((rp) => `${rp.peer.label}: ${rp.peer.config}`) : []),
      ...rows.filter((r) => r.failed && r.rounds.length > 0).map((r) => `${r.label} failed after ${r.rounds.length} round(s): ${r.failed}`),
    ],
  };
}

/**
 * The row of a peer that did not run (no numbers, the reason instead).
 * @param {{ name: string, label: string, reason: string }} s
 * @returns {import('../scenarios/scenario.mjs').LoadRow}
 */
export function skippedRow({ name, label, reason }) {
  const nan = Number.NaN;
  return { peer: name, label, rps: nan, ratio: nan, p50Ms: nan, p99Ms: nan, p999Ms: nan, errors: 0, cpuPct: nan, rssMaxMiB: nan, processes: 0, skipped: reason, rounds: [] };
}

/**
 * What a TLS client negotiated with each peer (checked once at start), peers with the same answer together.
 * @param {import('./start-peer.mjs').RunningPeer[]} peers
 */
function negotiatedNote(peers) {
  /** @type {Map<string, string[]>} */
  const by = new Map();
  for (const rp of peers) {
    const n = rp.tls?.negotiated || 'unknown';
    by.set(n, [...(by.get(n) ?? []), rp.peer.label]);
  }
  return `negotiated: ${[...by].map(([n, labels]) => `${labels.join(', ')}: ${n}`).join('; ')}`;
}
