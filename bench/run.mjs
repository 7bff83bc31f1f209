// pnpm bench [--quick]: pingora-ts beside nginx, HAProxy, http-proxy, @fastify/http-proxy and
// no proxy at all, on loopback. The upstream (nginx) and the load generator (wrk) share CPU 0;
// each proxy runs alone on CPU 1. Scenarios are the files in scenarios/, peers are listed in
// peers/index.mjs. Results: results/latest.{md,json,svg} and the README's Results section.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseBenchOptions, USAGE } from './lib/bench-options.mjs';
import { ensureTools } from './lib/ensure-tools.mjs';
import { duration } from './lib/format.mjs';
import { freePort } from './lib/free-port.mjs';
import { loadScenarios } from './lib/load-scenarios.mjs';
import { machineInfo } from './lib/machine-info.mjs';
import { cpuSnapshot, otherCpuPct } from './lib/machine-load.mjs';
import { ProcessGroup } from './lib/process-group.mjs';
import { renderBarChartSvg } from './lib/render-bar-chart-svg.mjs';
import { factsLine, renderMarkdown, runLine, summaryTable } from './lib/render-markdown.mjs';
import { runLoadScenario } from './lib/run-load-scenario.mjs';
import { hasCommand, startPeer } from './lib/start-peer.mjs';
import { makeCert } from './lib/tls-cert.mjs';
import { updateReadmeResults } from './lib/update-readme-results.mjs';
import { waitForHttp } from './lib/wait-for-http.mjs';
import { baselinePeer, optionalPeers, peers as defaultPeers, REFERENCE } from './peers/index.mjs';
import { startUpstream } from './peers/upstream.mjs';

const BENCH_DIR = fileURLToPath(new URL('.', import.meta.url));
const REPO_ROOT = join(BENCH_DIR, '..');
const UPSTREAM_CPUS = '0';
/** Above this much CPU (% of one core) used by other processes, the report calls a scenario noisy. */
const NOISY_PCT = 15;

/** @param {string} msg */
const log = (msg) => console.log(msg);

/** @param {string[]} argv */
async function main(argv) {
  const explicitOut = argv.some((a) => a === '--out' || a.startsWith('--out='));
  const opts = parseBenchOptions(argv);
  if (opts.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  // A subset run must not overwrite the committed full results unless asked to.
  if (!explicitOut && (opts.scenarios || opts.peers)) opts.out = 'partial';
  const t0 = Date.now();
  const cpu0 = cpuSnapshot();

  // Optional scenarios (too long for the default run) run only when named.
  const scenarios = (await loadScenarios()).filter((s) => (opts.scenarios ? opts.scenarios.includes(s.name) : !s.optional));
  const unknownScenarios = (opts.scenarios ?? []).filter((n) => !scenarios.some((s) => s.name === n));
  if (unknownScenarios.length > 0) {
    const known = (await loadScenarios()).map((s) => s.name).join(', ');
    throw new Error(`unknown scenario ${unknownScenarios.join(', ')} (known: ${known})`);
  }
  const allPeers = [...defaultPeers, ...optionalPeers];
  const unknownPeers = (opts.peers ?? []).filter((n) => !allPeers.some((p) => p.name === n));
  if (unknownPeers.length > 0) throw new Error(`unknown peer ${unknownPeers.join(', ')} (known: ${allPeers.map((p) => p.name).join(', ')})`);
  const peers = allPeers.filter((p) => (!opts.peers && !optionalPeers.includes(p)) || opts.peers?.includes(p.name) || p.name === REFERENCE);
  if (opts.baseline !== null) peers.push(baselinePeer(opts.baseline));

  ensureTools({ install: opts.install, log });
  if (!hasCommand('nginx')) throw new Error('nginx is missing and could not be installed: it is both the upstream and the reference');
  if (ProcessGroup.pinning) spawnSync('taskset', ['-apc', UPSTREAM_CPUS, String(process.pid)], { stdio: 'ignore' });
  else log('taskset is missing: nothing is pinned, so the numbers mix proxy and load generator CPU');

  const group = new ProcessGroup();
  const dir = mkdtempSync(join(tmpdir(), 'pingora-ts-bench-'));
  let cleaned = false;
  const cleanupNow = () => {
    if (cleaned) return;
    cleaned = true;
    group.killAllNow();
    rmSync(dir, { recursive: true, force: true });
  };
  process.on('exit', cleanupNow);
  const onSignal = (/** @type {NodeJS.Signals} */ sig) => {
    log(`\n${sig}: stopping the processes the bench started`);
    group.stopAll(1000).finally(() => {
      cleanupNow();
      process.exit(130);
    });
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  process.once('SIGHUP', onSignal);

  try {
    const upstreamPort = await freePort();
    const upstreamProc = startUpstream(group, { dir, port: upstreamPort, cpus: UPSTREAM_CPUS });
    await waitForHttp(upstreamPort, { proc: upstreamProc });
    const upstream = { port: upstreamPort };
    log(`upstream nginx on 127.0.0.1:${upstreamPort} (CPU ${UPSTREAM_CPUS})`);

    // One certificate for every peer's HTTPS listener, only when a TLS scenario is selected.
    /** @type {import('./lib/tls-cert.mjs').TlsCert | undefined} */
    let cert;
    let certError = '';
    if (scenarios.some((s) => 'load' in s && s.tls)) {
      try {
        cert = makeCert(dir);
        log(`TLS: ${cert.describe}`);
      } catch (err) {
        certError = /** @type {Error} */ (err).message;
        log(`TLS scenarios will be skipped: ${certError}`);
      }
    }

    /** @type {import('./lib/start-peer.mjs').RunningPeer[]} */
    const running = [];
    /** @type {import('./lib/render-markdown.mjs').PeerInfo[]} */
    const peerInfo = [];
    // Start every peer at once (they idle until measured); keep the table order.
    const starts = await Promise.allSettled(peers.map((peer) => startPeer(peer, { group, dir, upstream, cert })));
    peers.forEach((peer, i) => {
      const info = { name: peer.name, label: peer.label, cpus: peer.cpus, config: peer.config, skipped: /** @type {string | null} */ (null) };
      peerInfo.push(info);
      const r = /** @type {PromiseSettledResult<import('./lib/start-peer.mjs').RunningPeer>} */ (starts[i]);
      if (r.status === 'fulfilled') {
        running.push(r.value);
        const tls = r.value.tls ? `, HTTPS on ${r.value.tls.port} (${r.value.tls.negotiated})` : r.value.tlsError ? `, no HTTPS: ${r.value.tlsError}` : '';
        log(`started ${peer.label} on 127.0.0.1:${r.value.port}${tls} (CPU ${peer.cpus})`);
      } else {
        info.skipped = r.reason instanceof Error ? r.reason.message : String(r.reason);
        log(`skipping ${peer.label}: ${info.skipped}`);
      }
    });
    if (!running.some((rp) => rp.peer.name === REFERENCE)) log(`${REFERENCE} did not start: no ratios in this run`);

    /** @type {import('./scenarios/scenario.mjs').Section[]} */
    const sections = [];
    /** @type {import('./scenarios/scenario.mjs').ScenarioContext} */
    const ctx = {
      opts,
      group,
      dir,
      upstream,
      running,
      results: sections,
      startPeer: (peer, o) => startPeer(peer, { group, dir, upstream: o?.upstream ?? upstream }),
      stopPeer: async (rp) => {
        if (rp.proc) await group.stop(rp.proc);
      },
      log,
    };
    for (const s of scenarios) {
      log(`\n[${s.name}] ${s.title} (at ${duration((Date.now() - t0) / 1000)})`);
      const base = { name: s.name, title: s.title, measures: s.measures };
      const before = cpuSnapshot();
      /** @type {import('./scenarios/scenario.mjs').Section} */
      let section;
      try {
        if ('load' in s) {
          const gone = (s.needs ?? ['wrk']).filter((c) => !hasCommand(c));
          if (gone.length > 0) throw new Error(`${gone.join(', ')} not installed`);
          if (s.tls && !cert) throw new Error(certError);
          section = await runLoadScenario(s, ctx);
        } else {
          section = { kind: 'table', ...base, ...(await s.run(ctx)) };
        }
      } catch (err) {
        const why = /** @type {Error} */ (err).message;
        log(`  skipped: ${why}`);
        section = { kind: 'table', ...base, columns: ['skipped'], rows: [[why]], notes: [] };
      }
      section.otherCpuPct = otherCpuPct(before, cpuSnapshot());
      if (section.otherCpuPct > NOISY_PCT) log(`  other processes used ${Math.round(section.otherCpuPct)}% of a core meanwhile: noisy`);
      sections.push(section);
    }

    // Stop the peers now so pingora-ts logs its pool counters for the whole run.
    /** @type {import('./lib/render-markdown.mjs').BenchResults['meta']['wholeRunPoolStats']} */
    const wholeRunPoolStats = [];
    for (const rp of running) {
      if (rp.proc) await group.stop(rp.proc);
      const stats = await rp.finalStats?.();
      if (stats) wholeRunPoolStats.push({ peer: rp.peer.label, ...stats });
    }

    /** @type {import('./lib/render-markdown.mjs').BenchResults} */
    const res = {
      meta: {
        date: new Date().toISOString(),
        mode: opts.quick ? 'quick' : 'full',
        rounds: opts.rounds,
        durationS: opts.durationS,
        warmupS: opts.warmupS,
        idleConns: opts.idleConns,
        runSeconds: (Date.now() - t0) / 1000,
        otherCpuPct: otherCpuPct(cpu0, cpuSnapshot()),
        noisyPct: NOISY_PCT,
        pinning: ProcessGroup.pinning
          ? `upstream nginx and wrk on CPU ${UPSTREAM_CPUS}; each proxy alone on CPU 1; pingora-ts threads:2 on CPUs 0,1 (both cores)`
          : 'none (taskset missing)',
        machine: machineInfo(REPO_ROOT),
        peers: peerInfo,
        wholeRunPoolStats,
        reference: REFERENCE,
      },
      sections,
    };
    writeResults(res, opts.out);
    log(`\n${renderMarkdown(res, `${opts.out}.svg`)}`);
    log(`wrote bench/results/${opts.out}.{md,json,svg}${opts.out === 'latest' ? ' and the Results section of bench/README.md' : ''} in ${duration(res.meta.runSeconds)}`);
    return 0;
  } finally {
    await group.stopAll();
    cleanupNow();
  }
}

/** The chart's subtitle: short enough for one line. @param {import('./lib/render-markdown.mjs').BenchResults} res */
function chartFacts(res) {
  const { machine: mc, date } = res.meta;
  return `${date.slice(0, 10)}, commit ${(mc.commit ?? 'unknown').slice(0, 7)}, node ${mc.node}, ${mc.cpu} × ${mc.cores}; each proxy pinned to one core`;
}

/**
 * @param {import('./lib/render-markdown.mjs').BenchResults} res
 * @param {string} out
 */
function writeResults(res, out) {
  const dir = join(BENCH_DIR, 'results');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, `${out}.md`), renderMarkdown(res, `${out}.svg`));
  writeFileSync(join(dir, `${out}.json`), `${JSON.stringify(res, null, 2)}\n`);
  const ran = res.meta.peers.filter((p) => !p.skipped);
  const loads = /** @type {import('./scenarios/scenario.mjs').LoadSection[]} */ (res.sections.filter((s) => s.kind === 'load' && s.inChart));
  writeFileSync(
    join(dir, `${out}.svg`),
    renderBarChartSvg({
      title: `pingora-ts benchmark: req/s relative to ${res.meta.reference}`,
      subtitle: `${res.meta.mode === 'quick' ? 'QUICK RUN (smoke test) - ' : ''}${chartFacts(res)}`,
      series: ran.map((p) => ({ name: p.name, label: p.label })),
      groups: loads.map((s) => ({ title: s.title, values: Object.fromEntries(s.rows.map((r) => [r.peer, r.ratio])) })),
      referenceLabel: `${res.meta.reference} = 1.00`,
    }),
  );
  if (out === 'latest') {
    updateReadmeResults(
      join(BENCH_DIR, 'README.md'),
      [runLine(res), '', factsLine(res), '', summaryTable(res), '', '![req/s relative to nginx](results/latest.svg)', '', 'Every table (latency, errors, CPU, RSS, idle connections, upstream reuse, threads): [results/latest.md](results/latest.md).'].join('\n'),
    );
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err) => {
    console.error(`bench: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  },
);
