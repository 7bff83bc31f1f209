// Changing the backends at run time without dropping a request: a backend removed while a
// request to it is in flight gets no new request, the one in flight completes, and `drained`
// says when it is idle. Then weight, disable and enable.
// Run: node examples/runtime-control.mjs (after `pnpm build`)
import { createServer } from 'node:http';
import { request } from 'undici';
import { LoadBalancer } from '@pingora-ts/load-balancing';

/** An HTTP server on 127.0.0.1 answering its name; `/slow` answers after `release()`. */
async function startServer(name) {
  const held = [];
  const server = createServer((req, res) => {
    if (req.url === '/slow') held.push(() => res.end(`${name} (slow)`));
    else res.end(name);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const release = async () => {
    while (held.length === 0) await new Promise((resolve) => setTimeout(resolve, 5)); // not arrived yet
    held.splice(0).forEach((end) => end());
  };
  return { name, server, release, addr: `127.0.0.1:${server.address().port}` };
}

const alpha = await startServer('alpha');
const beta = await startServer('beta');
const names = { [alpha.addr]: 'alpha', [beta.addr]: 'beta' };
const lb = LoadBalancer.fromBackends([alpha.addr, beta.addr]);
lb.on('drained', (backend) => console.log(`drained: ${names[backend.addr]}`));

/** Sends one request to the backend the load balancer picks, reporting it (for draining and load). */
async function send(path = '/') {
  const backend = lb.select('', 4);
  lb.requestStarted(backend);
  const started = performance.now();
  try {
    const { body } = await request(`http://${backend.addr}${path}`);
    return await body.text();
  } finally {
    lb.requestEnded(backend, 'ok', performance.now() - started);
  }
}
const tally = async (n) => {
  const seen = {};
  for (let i = 0; i < n; i++) {
    const name = await send();
    seen[name] = (seen[name] ?? 0) + 1;
  }
  return Object.entries(seen).map(([name, count]) => `${name}=${count}`).join(' ');
};

const slow = send('/slow'); // alpha, the first pick: counted in flight at once, answered on release()
lb.removeBackend(alpha.addr);
console.log(`alpha removed with 1 request in flight; 4 requests: ${await tally(4)}`);
await alpha.release();
console.log(`in-flight request completed: ${await slow}`);

lb.addBackend(alpha.addr);
lb.setWeight(beta.addr, 3);
console.log(`alpha back, beta weight 3; 8 requests: ${await tally(8)}`);
lb.disable(beta.addr);
console.log(`beta disabled; 4 requests: ${await tally(4)}`);
lb.enable(beta.addr);
console.log(`beta enabled; 4 requests: ${await tally(4)}`);

for (const s of [alpha, beta]) {
  s.server.closeAllConnections();
  s.server.close();
}
