/**
 * Passive health end to end: live requests through the app's LbProxy report each attempt's
 * outcome, and `upstreams.passive_health` ejects the backend that keeps answering 5xx.
 */
import { AccessLogger } from '@pingora-ts/observability';
import { HttpProxy } from '@pingora-ts/proxy';
import { Agent, request } from 'undici';
import { Resources } from '../../../test-support/resources';
import { buildLoadBalancer } from '../src/build-load-balancer';
import { lbConfSchema } from '../src/lb-conf';
import { LbProxy } from '../src/lb-proxy';

const res = new Resources();
afterEach(() => res.closeAll());

test('a backend answering 502 to live traffic is ejected after consecutive_5xx, and the traffic goes to the other', async () => {
  const bad = await res.httpServer((req, out) => {
    req.resume();
    out.statusCode = 502;
    out.end('bad');
  });
  const good = await res.httpServer((req, out) => {
    req.resume();
    out.end('good');
  });
  const conf = lbConfSchema.parse({
    services: [
      {
        name: 'web',
        listeners: [{ addr: '127.0.0.1:0' }],
        upstreams: { backends: [bad.address, good.address], passive_health: { consecutive_5xx: 2, base_ejection_ms: 60_000 } },
      },
    ],
  });
  const up = conf.services[0]!.upstreams;
  const lb = buildLoadBalancer(up);
  const ejected: string[] = [];
  lb.on('ejection', (b, out, cause) => ejected.push(`${b.addr} ${out ? 'out' : 'back'} ${cause}`));
  const proxy = new HttpProxy('web', new LbProxy(lb, up, new AccessLogger({ path: false })), { listeners: [{ addr: '127.0.0.1:0' }] });
  await proxy.listen();
  res.defer(() => proxy.shutdown({ graceful: false, timeoutMs: 0 }));
  const a = proxy.addresses()[0]!;
  if (a.kind !== 'tcp') throw new Error('no tcp address');
  const agent = new Agent({ connections: 2 });
  res.defer(() => agent.close());

  const bodies: string[] = [];
  for (let i = 0; i < 12; i++) {
    const r = await request(`http://127.0.0.1:${a.port}/`, { dispatcher: agent });
    bodies.push(await r.body.text());
  }
  // Round robin: bad, good, bad (the second 5xx in a row ejects it), then good only.
  expect(bodies.slice(0, 3)).toEqual(['bad', 'good', 'bad']);
  expect(bodies.slice(3).every((b) => b === 'good')).toBe(true);
  expect(ejected).toEqual([`${bad.address} out consecutive_5xx`]);
  expect(lb.backends().isEjected(bad.address)).toBe(true);
});
