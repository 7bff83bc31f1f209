// What a scenario is. Each file in this folder but this one default-exports a `Scenario`.
//
// Two kinds:
// - a load scenario gives `load(target)`: the harness runs it against every peer, warm-up first,
//   then in interleaved rounds, and reports req/s, latency, errors, CPU and RSS per peer;
// - a custom scenario gives `run(ctx)` and returns its own table (idle connections, pool reuse,
//   a figure derived from earlier scenarios).

/**
 * @typedef {object} ScenarioBase
 * @property {string} name        id for --scenarios and the JSON, e.g. "get-c50"
 * @property {string} title       table heading, e.g. "keep-alive small GET, c=50"
 * @property {string} measures    one sentence: what it measures
 * @property {number} order       position in the run and the report (ascending)
 * @property {boolean} [inChart]  whether its req/s ratio goes into the SVG (load scenarios: default true)
 * @property {boolean} [optional] runs only when `--scenarios` names it (too long for the default run)
 */

/**
 * `peers` picks the peers it applies to (default: all); `notes` go under its table. `tls: true`
 * sends the load to each peer's HTTPS listener (`target.tls` is set) and runs only against peers
 * that have one; the harness makes the certificate only when such a scenario is selected.
 * `notesFrom(rows)` adds notes computed from the results (after the ratios are set).
 * A protocol scenario brings its own peers: `setup(ctx)` starts them (and their backend) for this
 * scenario only, and the harness stops them after it; peers it skipped get a "skipped" row.
 * `reference` names the peer ratios are taken against (default nginx), `unit` what the rate
 * counts (default "req/s"), `needs` the commands the load generator needs (default wrk).
 * @typedef {ScenarioBase & {
 *   connections: number,
 *   payload: string,
 *   load: (t: import('../lib/wrk.mjs').Target) => import('../lib/wrk.mjs').LoadCommand,
 *   peers?: (peer: import('../peers/peer.mjs').Peer) => boolean,
 *   tls?: boolean,
 *   notes?: string[],
 *   notesFrom?: (rows: LoadRow[]) => string[],
 *   setup?: (ctx: ScenarioContext) => Promise<import('../lib/own-peers.mjs').OwnPeers>,
 *   reference?: string,
 *   unit?: string,
 *   needs?: string[],
 * }} LoadScenario
 */

/**
 * @typedef {object} ScenarioContext
 * @property {import('../lib/bench-options.mjs').BenchOptions} opts
 * @property {import('../lib/process-group.mjs').ProcessGroup} group
 * @property {string} dir
 * @property {{ port: number }} upstream
 * @property {import('../lib/start-peer.mjs').RunningPeer[]} running  the peers started for the whole run
 * @property {Section[]} results                                       sections of the scenarios run so far
 * @property {(peer: import('../peers/peer.mjs').Peer, o?: { upstream?: { port: number } }) => Promise<import('../lib/start-peer.mjs').RunningPeer>} startPeer
 *   an extra instance (in front of `o.upstream`, default the run's upstream), stopped by `stopPeer`
 * @property {(rp: import('../lib/start-peer.mjs').RunningPeer) => Promise<void>} stopPeer
 * @property {(msg: string) => void} log
 */

/**
 * @typedef {ScenarioBase & { run: (ctx: ScenarioContext) => Promise<Omit<TableSection, 'name' | 'title' | 'measures' | 'kind'>> }} CustomScenario
 */

/** @typedef {LoadScenario | CustomScenario} Scenario */

/**
 * @typedef {object} LoadRow
 * @property {string} peer
 * @property {string} label
 * @property {number} rps          median over rounds
 * @property {number} ratio        rps / nginx's rps (NaN without nginx)
 * @property {number} p50Ms        median over rounds, like p99Ms and p999Ms
 * @property {number} p99Ms
 * @property {number} p999Ms
 * @property {number} errors       non-2xx + socket errors, summed over the measured rounds
 * @property {number} cpuPct       median over rounds, % of one core
 * @property {number} rssMaxMiB    max over rounds
 * @property {number} processes    how many processes the proxy ran as (max over rounds; 0 for direct)
 * @property {string} [failed]     why it has no numbers
 * @property {string} [skipped]    why it did not run at all (a protocol scenario's peer that cannot serve it)
 * @property {Array<{ rps: number, p99Ms: number, cpuPct: number, errors: import('../lib/wrk.mjs').LoadResult['errors'] }>} rounds  each measured round
 */

/**
 * @typedef {object} LoadSection
 * @property {'load'} kind
 * @property {string} name
 * @property {string} title
 * @property {string} measures
 * @property {number} connections
 * @property {string} payload
 * @property {string} command
 * @property {string} [unit]       what the rate counts, e.g. "calls/s" (default "req/s")
 * @property {string} [reference]  the peer ratios are taken against (default: the run's reference, nginx)
 * @property {boolean} inChart
 * @property {LoadRow[]} rows
 * @property {string[]} notes
 * @property {number} [otherCpuPct]  CPU used by processes outside the bench meanwhile, % of one core
 */

/**
 * @typedef {object} TableSection
 * @property {'table'} kind
 * @property {string} name
 * @property {string} title
 * @property {string} measures
 * @property {string[]} columns
 * @property {Array<Array<string | number>>} rows
 * @property {string[]} notes
 * @property {unknown} [data]      machine-readable numbers for the JSON
 * @property {number} [otherCpuPct]
 */

/** @typedef {LoadSection | TableSection} Section */

export {};
