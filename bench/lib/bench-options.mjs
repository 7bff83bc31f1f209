// Command-line options of `pnpm bench`.

/**
 * @typedef {object} BenchOptions
 * @property {boolean} quick        smoke run: 1 round of 1 s, no warm-up, fewer idle connections
 * @property {number} rounds        measured rounds per (scenario, peer)
 * @property {number} durationS     seconds per round
 * @property {number} warmupS       seconds of warm-up per (scenario, peer); 0 for none
 * @property {number} idleConns     idle keep-alive connections for the memory scenario
 * @property {string[] | null} scenarios  only these (names), or all
 * @property {string[] | null} peers      only these (names), or all
 * @property {boolean} install      apt-get install missing tools
 * @property {string} out           results/<out>.{md,json,svg}; "latest" also updates README.md
 * @property {string | null} baseline  another checkout whose load balancer runs as peer pingora-ts-base
 * @property {boolean} help
 */

export const USAGE = `usage: pnpm bench [--quick] [--rounds N] [--duration S] [--warmup S] [--idle-conns N]
                  [--scenarios a,b] [--peers a,b] [--no-install] [--out NAME] [--baseline DIR]

  --quick          smoke run, under a minute: 1 round of 1 s, no warm-up, 1,000 idle connections
  --rounds N       measured rounds per scenario and peer (default 3)
  --duration S     seconds per round (default 5)
  --warmup S       warm-up seconds per scenario and peer (default 2)
  --idle-conns N   idle keep-alive connections for the memory scenario (default 10000)
  --scenarios a,b  run only these scenarios (see bench/scenarios/); grpc-unary, ws-echo,
                   h2-stream-memory and cache-hit run only when named here
  --peers a,b      run only these peers (nginx is always added: ratios need it)
  --no-install     do not apt-get install missing nginx/haproxy/wrk/h2load
  --out NAME       write bench/results/NAME.{md,json,svg} (default latest; only latest updates README.md)
  --baseline DIR   also run DIR/apps/load_balancer/dist/main.js (another checkout, built) as peer
                   pingora-ts-base, in the same interleaved rounds: a change measured against main
`;

/**
 * @param {string[]} argv  process.argv.slice(2)
 * @returns {BenchOptions}
 */
export function parseBenchOptions(argv) {
  const quick = argv.includes('--quick');
  /** @type {BenchOptions} */
  const o = {
    quick,
    rounds: quick ? 1 : 3,
    durationS: quick ? 1 : 5,
    warmupS: quick ? 0 : 2,
    idleConns: quick ? 1000 : 10000,
    scenarios: null,
    peers: null,
    install: true,
    out: 'latest',
    baseline: null,
    help: false,
  };
  const list = (/** @type {string} */ v) => v.split(',').map((s) => s.trim()).filter(Boolean);
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const [flag, inline] = a.includes('=') ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a, undefined];
    const value = () => {
      const v = inline ?? argv[++i];
      if (v === undefined) throw new Error(`${flag} needs a value`);
      return v;
    };
    const num = (/** @type {number} */ min) => {
      const v = value();
      const n = Number(v);
      if (!Number.isFinite(n) || n < min) throw new Error(`${flag}: expected a number >= ${min}, got "${v}"`);
      return n;
    };
    switch (flag) {
      case '--quick':
        break;
      case '--rounds':
        o.rounds = Math.round(num(1));
        break;
      case '--duration':
        o.durationS = Math.round(num(1));
        break;
      case '--warmup':
        o.warmupS = Math.round(num(0));
        break;
      case '--idle-conns':
        o.idleConns = Math.round(num(1));
        break;
      case '--scenarios':
        o.scenarios = list(value());
        break;
      case '--peers':
        o.peers = list(value());
        break;
      case '--no-install':
        o.install = false;
        break;
      case '--out':
        o.out = value();
        if (!/^[\w.-]+$/.test(o.out)) throw new Error(`--out: "${o.out}" must be a plain file name`);
        break;
      case '--baseline':
        o.baseline = value();
        break;
      case '-h':
      case '--help':
        o.help = true;
        break;
      default:
        throw new Error(`unknown option ${a}`);
    }
  }
  return o;
}
