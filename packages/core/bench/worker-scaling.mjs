// How req/s scales with 2 workers, per way of sharing the listening socket, measured with wrk
// against the same tiny HTTP server (node:http, "ok", keep-alive). Variants run one after the
// other in interleaved rounds so that background noise hits them alike; the report gives the
// median req/s of each and its ratio to the single process.
//
//   node bench/worker-scaling.mjs [rounds=3] [seconds=5] [connections=50]
//
// Two workloads: "keep-alive" (wrk's 50 connections reused for every request) and "close"
// (`Connection: close`: a new connection per request, so accepting is most of the work).
// Needs wrk on PATH and a built package (pnpm build). Only 127.0.0.1 is used.
//
// Variants (2 workers each, but "single"):
//   single          one process, no workers
//   cluster-rr      node:cluster, round-robin: the primary accepts and passes each connection
//   cluster-shared  node:cluster, SCHED_NONE: every worker accepts on the shared socket
//   core-children   @pingora-ts/core threads: 2 (child processes, socket passed as fd 4)
//   worker-threads  worker_threads accepting on one descriptor (no public API for this:
//                   each thread wraps the same fd; measured only to compare)
import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';

const ROUNDS = Number(process.argv[2] ?? 3);
const SECONDS = Number(process.argv[3] ?? 5);
const CONNECTIONS = Number(process.argv[4] ?? 50);
const SELF = fileURLToPath(import.meta.url);
const VARIANTS = ['single', 'cluster-rr', 'cluster-shared', 'core-children', 'worker-threads'];

const role = process.env.BENCH_ROLE;
if (role) await serve(role);
else await main();

async function serve(variant) {
  const http = await import('node:http');
  const handler = (req, res) => res.end('ok');
  const announce = (port) => process.stdout.write(`port ${port}\n`);
  if (variant === 'single') {
    const s = http.createServer(handler).listen(0, '127.0.0.1', () => announce(s.address().port));
  } else if (variant === 'cluster-rr' || variant === 'cluster-shared') {
    const cluster = (await import('node:cluster')).default;
    cluster.schedulingPolicy = variant === 'cluster-rr' ? cluster.SCHED_RR : cluster.SCHED_NONE;
    if (cluster.isPrimary) {
      const port = await new Promise((resolve) => {
        const probe = http.createServer().listen(0, '127.0.0.1', () => {
          const p = probe.address().port;
          probe.close(() => resolve(p));
        });
      });
      let ready = 0;
      for (let i = 0; i < 2; i++) cluster.fork({ BENCH_PORT: String(port) }).on('listening', () => ++ready === 2 && announce(port));
    } else {
      http.createServer(handler).listen(Number(process.env.BENCH_PORT), '127.0.0.1');
    }
  } else if (variant === 'core-children') {
    const { Server } = await import('../dist/index.js');
    const server = new Server(null, { conf: { threads: 2, pid_file: `/tmp/pingora-ts-bench-${process.pid}.pid` }, logger: { error() {}, warn() {}, info() {}, debug() {} } });
    const httpServer = http.createServer(handler);
    const listeners = [];
    server.addService({
      kind: 'listening',
      name: 'bench',
      listenerConfigs: [{ addr: '127.0.0.1:0' }],
      async listen(ctx) {
        listeners.push(await ctx.openListener({ addr: '127.0.0.1:0' }, (s) => httpServer.emit('connection', s)));
      },
      addresses: () => listeners.map((l) => l.address()),
      async shutdown() {
        await Promise.all(listeners.map((l) => l.stopAccepting()));
        httpServer.closeAllConnections();
      },
    });
    server.on('phase', (p) => p === 'running' && server.role === 'primary' && announce(server.listenerAddresses()[0].port));
    await server.runForever();
  } else if (variant === 'worker-threads') {
    const { Worker, isMainThread, workerData, parentPort } = await import('node:worker_threads');
    if (isMainThread) {
      const net = await import('node:net');
      const handle = net._createServerHandle('127.0.0.1', 0, 4);
      const out = {};
      handle.getsockname(out);
      let ready = 0;
      for (let i = 0; i < 2; i++) new Worker(SELF, { workerData: { fd: handle.fd }, env: { ...process.env } }).on('message', () => ++ready === 2 && announce(out.port));
    } else {
      http.createServer(handler).listen({ fd: workerData.fd }, () => parentPort.postMessage('ready'));
    }
  }
}

function start(variant) {
  const child = spawn(process.execPath, [SELF], { env: { ...process.env, BENCH_ROLE: variant }, stdio: ['ignore', 'pipe', 'inherit'], detached: true });
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
      const m = out.match(/port (\d+)/);
      if (m) resolve({ child, port: Number(m[1]) });
    });
    child.on('exit', (code) => reject(new Error(`${variant} exited (${code})`)));
  });
}

function wrk(port, workload, seconds = SECONDS) {
  const header = workload === 'close' ? ['-H', 'Connection: close'] : [];
  return new Promise((resolve, reject) => {
    execFile('wrk', ['-t', '1', '-c', String(CONNECTIONS), '-d', `${seconds}s`, ...header, `http://127.0.0.1:${port}/`], (err, stdout) => {
      if (err) return reject(err);
      resolve(Number(stdout.match(/Requests\/sec:\s+([\d.]+)/)?.[1] ?? 0));
    });
  });
}

async function main() {
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  for (const workload of ['keep-alive', 'close']) {
    const results = Object.fromEntries(VARIANTS.map((v) => [v, []]));
    for (let round = 1; round <= ROUNDS; round++) {
      for (const variant of VARIANTS) {
        const { child, port } = await start(variant);
        await wrk(port, workload, 1).catch(() => 0); // warm-up, discarded (JIT, connection setup)
        const rps = await wrk(port, workload);
        results[variant].push(rps);
        process.kill(-child.pid, 'SIGKILL');
        await once(child, 'exit');
        process.stderr.write(`${workload} round ${round} ${variant}: ${rps.toFixed(0)} req/s\n`);
      }
    }
    const base = median(results.single);
    console.log(`\n${workload}: | variant | median req/s | vs single | runs |`);
    console.log(`|---|---|---|---|`);
    for (const v of VARIANTS) {
      const m = median(results[v]);
      console.log(`| ${v} | ${m.toFixed(0)} | ${(m / base).toFixed(2)} | ${results[v].map((x) => x.toFixed(0)).join(', ')} |`);
    }
  }
  console.log(`\nNode ${process.version}, ${(await import('node:os')).cpus().length} cores, wrk -t1 -c${CONNECTIONS} -d${SECONDS}s, ${ROUNDS} rounds`);
}
