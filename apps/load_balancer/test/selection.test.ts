import { Agent, request } from 'undici';
import { Harness, lbConf } from './harness';

let h: Harness;
let agent: Agent;
beforeEach(() => {
  h = new Harness();
  agent = new Agent({ connections: 4 });
});
afterEach(async () => {
  await agent.close();
  await h.cleanup();
});

const withUpstreams = (extra: string) => lbConf(h.dir, ['127.0.0.1:1']).replace('      backends:', `${extra}\n      backends:`);

test.each([
  ['selection', '      selection: least_busy', /services\[0\]\.upstreams\.selection: expected one of "round_robin", "random", "fnv", "ketama", "maglev", "least_conn", "p2c_ewma", got "least_busy"/],
  ['hash_key', '      selection: ketama\n      hash_key: header', /services\[0\]\.upstreams\.hash_key.*"header".*uri, path, client_ip, header:NAME, cookie:NAME or query:NAME/],
  ['hash_key', '      selection: least_conn\n      hash_key: uri', /services\[0\]\.upstreams\.hash_key: only used by selection fnv, ketama or maglev, not least_conn/],
  [
    'discovery.new_backends_healthy',
    '      discovery: { type: static, new_backends_healthy: false }',
    /services\[0\]\.upstreams\.discovery\.new_backends_healthy: false needs upstreams\.health_check/,
  ],
])('-t names a bad %s and its valid values in one line', async (_key, extra, expected) => {
  const conf = h.file('bad.yaml', withUpstreams(extra));
  const r = await h.run(['-t', '-c', conf]);
  expect(r.code).toBe(1);
  const lines = r.stderr.trim().split('\n');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(expected);
});

test.each(['fnv', 'ketama', 'maglev', 'least_conn', 'p2c_ewma'])('-t accepts selection: %s', async (selection) => {
  const hashing = ['fnv', 'ketama', 'maglev'].includes(selection);
  const conf = h.file('ok.yaml', withUpstreams(`      selection: ${selection}${hashing ? '\n      hash_key: cookie:sid' : ''}`));
  const r = await h.run(['-t', '-c', conf]);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
});

test('ketama on uri: each URI always reaches the same backend, and the URIs spread over all of them', async () => {
  const ups = await Promise.all([h.upstream(), h.upstream(), h.upstream()]);
  const lb = await h.start(lbConf(h.dir, ups.map((u) => u.addr)).replace('      backends:', '      selection: ketama\n      hash_key: uri\n      backends:'));
  const owner = new Map<string, string>();
  for (let round = 0; round < 3; round++) {
    for (let i = 0; i < 30; i++) {
      const uri = `/item/${i}?v=${i % 4}`;
      const r = await request(`${lb.url}${uri}`, { dispatcher: agent });
      const body = await r.body.text();
      if (round === 0) owner.set(uri, body);
      else expect(body).toBe(owner.get(uri));
    }
  }
  expect(new Set(owner.values()).size).toBe(3);
});
