// Client-side load balancing with undici: two local HTTP servers (weights 1 and 2), TCP
// health checks, and a backend that leaves the rotation when it goes away.
// Run: node examples/client-side.mjs (after `pnpm build`)
import { createServer } from 'node:http';
import { request } from 'undici';
import { Backend, LoadBalancer, TcpHealthCheck } from '@pingora-ts/load-balancing';

/** Starts an HTTP server on a free port of 127.0.0.1 that answers with its own name. */
async function startServer(name) {
  const server = createServer((req, res) => res.end(name));
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { name, server, addr: `127.0.0.1:${server.address().port}` };
}

/** Stops a server: no new connections, and the kept-alive ones are closed. */
function stopServer({ server }) {
  server.closeAllConnections();
  return new Promise((resolve) => server.close(resolve));
}

const alpha = await startServer('alpha');
const beta = await startServer('beta');

const lb = LoadBalancer.fromBackends([new Backend(alpha.addr, 1), new Backend(beta.addr, 2)], {
  healthCheck: new TcpHealthCheck({ connectTimeoutMs: 500 }),
});
lb.on('health', (backend, healthy, error) => {
  console.log(`health: ${backend.addr} is ${healthy ? 'healthy' : `unhealthy (${error?.message})`}`);
});
console.log(`backends: alpha=${alpha.addr} (weight 1), beta=${beta.addr} (weight 2)`);

/** Sends `n` requests, each to the backend the load balancer picks; returns the answers. */
async function send(n) {
  const answers = { alpha: 0, beta: 0 };
  for (let i = 0; i < n; i++) {
    const backend = lb.select('', 4);
    if (!backend) throw new Error('no healthy backend');
    const { body } = await request(`http://${backend.addr}/`);
    const name = await body.text();
    answers[name]++;
    console.log(`request ${i + 1} -> ${name} (${backend.addr})`);
  }
  return answers;
}

await lb.runHealthCheck();
let answers = await send(9);
console.log(`answers: alpha=${answers.alpha} beta=${answers.beta}`);

console.log('stopping beta');
await stopServer(beta);
await lb.runHealthCheck();
answers = await send(3);
console.log(`answers after beta stopped: alpha=${answers.alpha} beta=${answers.beta}`);

await stopServer(alpha);
