// pnpm bench [--quick]: small keep-alive GETs through each proxy on one core, beside nginx.
// Upstream nginx `return 200` on CPU 0, each proxy alone on CPU 1, wrk on CPU 0; rounds are
// interleaved across proxies and the median is reported, so read the ratios, not the numbers.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pinned, startNginx } from './peers/nginx.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const quick = process.argv.includes('--quick');
const rounds = quick ? 1 : 3;
const duration = quick ? '3s' : '5s';
const UPSTREAM = 18080;
const PORTS = { direct: UPSTREAM, nginx: 18081, 'pingora-ts': 18082 };

function have(cmd) {
  return spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
}

function ensureTools() {
  const missing = ['nginx', 'wrk', 'taskset'].filter((c) => !have(c));
  if (missing.length === 0) return;
  console.log(`installing nginx-light wrk with apt (missing: ${missing.join(', ')})`);
  execFileSync('sh', ['-c', 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx-light wrk util-linux >/dev/null'], {
    stdio: 'inherit',
  });
}

async function waitPort(port) {
  for (let i = 0; i < 100; i++) {
    const ok = await new Promise((resolve) => {
      const s = connect(port, '127.0.0.1', () => {
        s.destroy();
        resolve(true);
      });
      s.on('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`nothing listens on ${port}`);
}

function wrk(port, d = duration) {
  const out = execFileSync('taskset', ['-c', '0', 'wrk', '-t1', '-c50', `-d${d}`, '--latency', `http://127.0.0.1:${port}/`], {
    encoding: 'utf8',
  });
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? 0);
  const p99 = /\s99%\s+([\d.]+\w+)/.exec(out)?.[1] ?? '?';
  const errors = /Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? '0';
  return { rps, p99, errors: Number(errors) };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function main() {
  ensureTools();
  const dir = mkdtempSync(join(tmpdir(), 'pts-bench-'));
  const procs = [];
  try {
    procs.push(startNginx(dir, 'upstream', `  server { listen 127.0.0.1:${UPSTREAM}; location / { return 200 "hello\\n"; } }`, 0));
    procs.push(
      startNginx(
        dir,
        'proxy',
        `  upstream up { server 127.0.0.1:${UPSTREAM}; keepalive 64; }\n` +
          `  server { listen 127.0.0.1:${PORTS.nginx}; location / { proxy_pass http://up; proxy_http_version 1.1; proxy_set_header Connection ""; } }`,
        1,
      ),
    );
    const conf = join(dir, 'lb.yaml');
    writeFileSync(
      conf,
      `pid_file: ${dir}/lb.pid\nerror_log: ${dir}/lb-error.log\naccess_log: ${dir}/lb-access.log\nservices:\n  - name: bench\n    listeners: [{ addr: 127.0.0.1:${PORTS['pingora-ts']} }]\n` +
        `    upstreams:\n      backends: [127.0.0.1:${UPSTREAM}]\n      health_check: { type: tcp, interval_ms: 1000 }\n`,
    );
    procs.push(pinned(1, process.execPath, [join(here, '..', 'apps', 'load_balancer', 'dist', 'main.js'), '-c', conf]));
    await Promise.all(Object.values(PORTS).map(waitPort));

    // Warm up each path once (JIT, pools), then measure in interleaved rounds.
    for (const port of Object.values(PORTS)) wrk(port, '1s');
    const results = Object.fromEntries(Object.keys(PORTS).map((k) => [k, []]));
    for (let r = 0; r < rounds; r++) {
      for (const [name, port] of Object.entries(PORTS)) {
        results[name].push(wrk(port));
      }
    }
    const nginxRps = median(results.nginx.map((x) => x.rps));
    const lines = [
      `keep-alive small GET, wrk -t1 -c50 -d${duration}, ${rounds} interleaved round(s), node ${process.version}`,
      '',
      '| proxy (one core) | req/s (median) | p99 (median round) | non-2xx | vs nginx |',
      '|---|---|---|---|---|',
    ];
    for (const [name, runs] of Object.entries(results)) {
      const rps = median(runs.map((x) => x.rps));
      const mid = runs.find((x) => x.rps === rps);
      lines.push(`| ${name} | ${Math.round(rps)} | ${mid.p99} | ${runs.reduce((a, x) => a + x.errors, 0)} | ${(rps / nginxRps).toFixed(2)} |`);
    }
    console.log(lines.join('\n'));
  } finally {
    await Promise.all(procs.map((p) => p.stop()));
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(`bench: ${err.message}`);
  process.exit(1);
});
