import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { alive, Harness, lbConf, sleep } from './harness';

let h: Harness;
beforeEach(() => {
  h = new Harness();
});
afterEach(() => h.cleanup());


test('-u + SIGQUIT: the new load balancer takes the listening socket over; no request fails, the pid file names it', async () => {
  const up = await h.upstream(0, (req, res) => {
    req.resume();
    if (req.url === '/slow') setTimeout(() => res.end('slow done'), 1500);
    else res.end('ok');
  });
  const sock = join(h.dir, 'upgrade.sock');
  const conf = lbConf(h.dir, [up.addr], `upgrade_sock: ${sock}\ngrace_period_seconds: 5`);
  const old = await h.start(conf);
  const agent = new Agent({ connections: 4 });
  let ok = 0;
  const errors: string[] = [];
  let stop = false;
  const load = (async () => {
    while (!stop) {
      try {
        const r = await request(old.url, { dispatcher: agent });
        await r.body.text();
        if (r.statusCode === 200) ok++;
        else errors.push(`status ${r.statusCode}`);
      } catch (err) {
        errors.push((err as Error).message);
      }
    }
  })();
  const slow = request(`${old.url}/slow`);
  await sleep(200);

  const next = h.spawn(['-u', '-c', join(h.dir, 'conf.yaml')]);
  for (let i = 0; i < 100 && !existsSync(sock); i++) await sleep(50);
  expect(existsSync(sock)).toBe(true);
  old.child.kill('SIGQUIT');
  const pidFile = join(h.dir, 'lb.pid');
  for (let i = 0; i < 100 && readFileSync(pidFile, 'utf8').trim() !== String(next.pid); i++) await sleep(50);
  expect(readFileSync(pidFile, 'utf8').trim()).toBe(String(next.pid));

  const s = await slow;
  expect(s.statusCode).toBe(200);
  expect(await s.body.text()).toBe('slow done');
  await sleep(500);
  stop = true;
  await load;
  await agent.close();
  expect(errors).toEqual([]);
  expect(ok).toBeGreaterThan(50);
  expect(await old.exited).toEqual({ code: 0, signal: null });
  expect(alive(next.pid!)).toBe(true);
  const after = await request(old.url);
  expect(await after.body.text()).toBe('ok');
  next.kill('SIGTERM');
});
