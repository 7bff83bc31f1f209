import { request } from 'undici';
import { Harness, lbConf, sleep } from './harness';

let h: Harness;
beforeEach(() => {
  h = new Harness();
});
afterEach(() => h.cleanup());

/** One request on a new connection each time, so the kernel spreads them over the workers. */
async function get(url: string): Promise<string> {
  const res = await request(url, { reset: true });
  return res.body.text();
}

test('threads: 2: health checks run once in the primary, and a dead backend leaves every worker\'s rotation', async () => {
  const a = await h.upstream();
  const b = await h.upstream();
  const conf = lbConf(h.dir, [a.addr, b.addr], 'threads: 2').replace(
    '      backends:',
    '      health_check: { type: tcp, interval_ms: 200, consecutive_success: 1, consecutive_failure: 1 }\n      backends:',
  );
  const lb = await h.start(conf);
  const seen = new Set<string>();
  for (let i = 0; i < 20; i++) seen.add(await get(lb.url));
  expect(seen).toEqual(new Set([`upstream ${a.port}`, `upstream ${b.port}`]));

  await h.kill(b);
  await sleep(2 * 200 + 300);
  const after: string[] = [];
  for (let i = 0; i < 30; i++) after.push(await get(lb.url));
  expect(new Set(after)).toEqual(new Set([`upstream ${a.port}`]));
  // Logged once, by the primary that ran the check; the workers only applied it.
  const unhealthy = lb.stderr().split('\n').filter((l) => l.includes('unhealthy'));
  expect(unhealthy.length).toBe(1);
});
