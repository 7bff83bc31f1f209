// A balanced undici dispatcher: three local HTTP servers behind one LoadBalancer with HTTP
// health checks. One server is killed while 300 GETs run 10 at a time, and not one request fails.
// Run: node examples/balanced-dispatcher.mjs (after `pnpm build`)
import { createServer } from 'node:http';
import { request, setGlobalDispatcher } from 'undici';
import { HttpHealthCheck, LoadBalancer } from '@pingora-ts/load-balancing';
import { BalancedDispatcher } from '@pingora-ts/load-balancing/undici';

/** Starts an HTTP server on a free port of 127.0.0.1 that answers with its own name. */
async function startServer(name) {
  const server = createServer((req, res) => res.end(name));
  const sockets = new Set();
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { name, server, sockets, addr: `127.0.0.1:${server.address().port}` };
}

/** Kills a server: it stops listening and every open connection breaks, requests in flight included. */
function kill({ server, sockets }) {
  server.close();
  for (const socket of sockets) socket.destroy();
}

const servers = await Promise.all(['alpha', 'beta', 'gamma'].map(startServer));
const [alpha, beta, gamma] = servers;
const nameOf = (backend) => servers.find((s) => s.addr === backend.addr).name;

const lb = LoadBalancer.fromBackends(
  servers.map((s) => s.addr),
  // Two failures in a row, not one: a probe slowed by a busy machine does not take a backend out.
  { healthCheck: new HttpHealthCheck({ path: '/', timeoutMs: 2000, consecutiveFailure: 2 }), healthCheckFrequencyMs: 100 },
);
lb.on('health', (backend, healthy) => console.log(`health: ${nameOf(backend)} is ${healthy ? 'healthy' : 'unhealthy'}`));
// The dispatcher reports every attempt to the load balancer (least_conn, p2c_ewma and passive
// health read the same reports); an observer sees them too.
const failedAttempts = {};
lb.observers.push({
  requestStarted() {},
  requestEnded(backend, outcome) {
    if (outcome !== 'ok') failedAttempts[`${nameOf(backend)} ${outcome}`] = (failedAttempts[`${nameOf(backend)} ${outcome}`] ?? 0) + 1;
  },
});
const stopChecks = new AbortController();
const checks = lb.backgroundService().run(stopChecks.signal);

const dispatcher = new BalancedDispatcher({ loadBalancer: lb });

const answers = { alpha: 0, beta: 0, gamma: 0 };
let failed = 0;
let next = 0;
async function worker() {
  while (next < 300) {
    const i = next++;
    if (i === 100) {
      console.log('killing beta');
      kill(beta);
    }
    try {
      // Any host will do: the dispatcher sends the request to the backend the load balancer picks.
      const { body } = await request('http://my-service/hello', { dispatcher });
      answers[await body.text()]++;
    } catch (err) {
      failed++;
      console.log(`request ${i} failed: ${err.message}`);
    }
  }
}
await Promise.all(Array.from({ length: 10 }, worker));
console.log(`answers: alpha=${answers.alpha} beta=${answers.beta} gamma=${answers.gamma}`);
console.log(`failed requests: ${failed}`);
console.log(`failed attempts, each retried on another backend: ${JSON.stringify(failedAttempts)}`);

await lb.runHealthCheck();
console.log(`beta ready: ${lb.backends().ready(beta.addr)}`);
const inflight = servers.map((s) => `${s.name}=${lb.load.inflight(lb.backends().get(s.addr))}`);
console.log(`in flight: ${inflight.join(' ')}`);

// As the global dispatcher, it serves every undici call and Node's own fetch.
setGlobalDispatcher(dispatcher);
const res = await fetch('http://my-service/hello');
console.log(`fetch -> ${await res.text()}`);

stopChecks.abort();
await checks;
await dispatcher.close();
kill(alpha);
kill(gamma);
