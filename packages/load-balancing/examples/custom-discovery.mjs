// A custom ServiceDiscovery in a few lines: a Consul-like catalog over HTTP. discover() reads
// the passing instances; watch() long-polls with Consul's blocking queries (?index=N returns
// when the catalog changes), so the load balancer follows each change at once.
// A local fake catalog stands in for Consul. Run: node examples/custom-discovery.mjs (after `pnpm build`)
import { createServer } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { Backend, Backends, LoadBalancer } from '@pingora-ts/load-balancing';

class ConsulDiscovery {
  constructor(base, service) {
    this.url = `${base}/v1/health/service/${service}?passing=true`;
  }

  async discover() {
    const res = await fetch(this.url);
    if (!res.ok) throw new Error(`catalog answered ${res.status}`);
    const entries = await res.json();
    return entries.map(({ Service: s }) => new Backend(`${s.Address}:${s.Port}`, s.Weights?.Passing ?? 1));
  }

  watch(changed, signal) {
    void (async () => {
      let index = '0';
      while (!signal.aborted) {
        try {
          const res = await fetch(`${this.url}&index=${index}&wait=30s`, { signal });
          await res.arrayBuffer();
          const next = res.headers.get('x-consul-index') ?? index;
          if (next !== index) changed();
          index = next;
        } catch {
          if (!signal.aborted) await sleep(1000); // catalog down: the load balancer keeps its list
        }
      }
    })();
  }
}

// The fake catalog: GET /v1/health/service/web, blocking while ?index= is the current index.
const instances = new Map([['a', { Address: '127.0.0.1', Port: 9001, Weights: { Passing: 1 } }]]);
let index = 1;
let waiting = [];
const answer = (res) => {
  res.setHeader('x-consul-index', String(index));
  res.end(JSON.stringify([...instances.values()].map((Service) => ({ Service }))));
};
const catalog = createServer((req, res) => {
  const asked = new URL(req.url, 'http://x').searchParams.get('index');
  if (asked === String(index)) waiting.push(res);
  else answer(res);
});
const update = (fn) => {
  fn();
  index++;
  for (const res of waiting.splice(0)) answer(res);
};
await new Promise((resolve) => catalog.listen(0, '127.0.0.1', resolve));

const lb = new LoadBalancer(new Backends(new ConsulDiscovery(`http://127.0.0.1:${catalog.address().port}`, 'web')));
const changes = [];
lb.on('change', (backends) => {
  console.log(`backends: ${backends.map((b) => `${b.addr} (weight ${b.weight})`).join(', ')}`);
  changes.push(backends);
});
const ac = new AbortController();
const service = lb.backgroundService('web discovery').run(ac.signal);
const nextChange = async () => {
  const n = changes.length;
  while (changes.length === n) await sleep(10);
};

await nextChange();
update(() => instances.set('b', { Address: '127.0.0.1', Port: 9002, Weights: { Passing: 2 } }));
await nextChange();
const picks = {};
for (let i = 0; i < 3; i++) {
  const addr = lb.select('', 4).addr;
  picks[addr] = (picks[addr] ?? 0) + 1;
}
console.log(`3 picks: ${Object.entries(picks).map(([addr, n]) => `${addr}=${n}`).join(' ')}`);
update(() => instances.delete('a'));
await nextChange();

ac.abort();
await service;
catalog.closeAllConnections();
catalog.close();
