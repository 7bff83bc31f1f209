// Active and passive health with two local HTTP servers: an HTTP health check takes a backend
// whose /health answers 503 out of the rotation; passive health ejects a backend whose live
// requests fail with 5xx, and the next passing health check lets it back.
// Run: node examples/health-checks.mjs (after `pnpm build`)
import { createServer } from 'node:http';
import { HttpHealthCheck, LoadBalancer } from '@pingora-ts/load-balancing';

/** A server answering `/health` with `state.health` ("ready") and anything else with `state.status` (its name). */
async function startServer(name) {
  const state = { health: 200, status: 200 };
  const server = createServer((req, res) => {
    const health = req.url === '/health';
    res.statusCode = health ? state.health : state.status;
    res.end(health ? 'ready' : name);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { name, server, state, addr: `127.0.0.1:${server.address().port}` };
}

const alpha = await startServer('alpha');
const beta = await startServer('beta');
const nameOf = (backend) => (backend.addr === alpha.addr ? 'alpha' : 'beta');

const lb = LoadBalancer.fromBackends([alpha.addr, beta.addr], {
  healthCheck: new HttpHealthCheck({ path: '/health', expectStatus: { min: 200, max: 299 }, expectBody: 'ready', timeoutMs: 500 }),
  passiveHealth: { consecutive5xx: 3, baseEjectionMs: 30_000 },
});
lb.on('health', (b, healthy, error) => {
  console.log(`health: ${nameOf(b)} is ${healthy ? 'healthy' : `unhealthy (${error.message.replace(b.addr, nameOf(b))})`}`);
});
lb.on('ejection', (b, ejected, cause) => console.log(`ejection: ${nameOf(b)} ${ejected ? 'ejected' : 'back'} (${cause})`));

/** One request to the backend the load balancer picks, its outcome reported as the proxy does. */
async function send() {
  const backend = lb.select('', 4);
  lb.requestStarted(backend);
  const started = performance.now();
  const res = await fetch(`http://${backend.addr}/`);
  await res.text();
  console.log(`request -> ${nameOf(backend)} ${res.status}`);
  lb.requestEnded(backend, res.status >= 500 ? 'http_5xx' : 'ok', performance.now() - started);
}

await lb.runHealthCheck();
console.log('beta /health answers 503');
beta.state.health = 503;
await lb.runHealthCheck();
await send();
await send();
beta.state.health = 200;
await lb.runHealthCheck();

console.log('alpha answers 502 to live requests (its /health still passes)');
alpha.state.status = 502;
for (let i = 0; i < 6; i++) await send();
alpha.state.status = 200;
await lb.runHealthCheck();
await send();

for (const { server } of [alpha, beta]) {
  server.closeAllConnections();
  server.close();
}
