import type { HealthCheck } from '@pingora-ts/load-balancing';
import { Backend, Backends, LoadBalancer, StaticDiscovery, TcpHealthCheck } from '@pingora-ts/load-balancing';
import { closeAllServers, closedPort, startTcpServer, waitFor } from './helpers/tcp-server';

const INTERVAL = 100;

const stops: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.all(stops.splice(0).map((s) => s()));
  await closeAllServers();
});

/** Starts `lb`'s background service; stopped in afterEach. */
function runInBackground(lb: LoadBalancer): { ac: AbortController; done: Promise<void> } {
  const ac = new AbortController();
  const done = lb.backgroundService().run(ac.signal);
  stops.push(async () => {
    ac.abort();
    await done;
  });
  return { ac, done };
}

describe('LoadBalancer.backgroundService', () => {
  it('is a core BackgroundService with a name', () => {
    const lb = LoadBalancer.fromBackends(['127.0.0.1:1']);
    const svc = lb.backgroundService();
    expect([svc.kind, svc.name]).toEqual(['background', 'load balancer']);
    expect(lb.backgroundService('upstreams').name).toBe('upstreams');
  });

  it('takes a killed backend out within two intervals and brings it back when it listens again', async () => {
    const a = await startTcpServer();
    const b = await startTcpServer();
    const lb = LoadBalancer.fromBackends([a.addr, b.addr], {
      healthCheck: new TcpHealthCheck({ connectTimeoutMs: 200 }),
      healthCheckFrequencyMs: INTERVAL,
    });
    const events: string[] = [];
    lb.on('health', (backend, healthy) => events.push(`${backend.addr} ${healthy ? 'up' : 'down'}`));
    runInBackground(lb);

    await new Promise((r) => setTimeout(r, INTERVAL / 2));
    await b.kill();
    const downIn = await waitFor(() => !lb.backends().ready(b.addr), 2 * INTERVAL + 50, 'b to leave rotation');
    expect(downIn).toBeLessThanOrEqual(2 * INTERVAL + 50);
    for (let i = 0; i < 5; i++) expect(lb.select('', 2)?.addr).toBe(a.addr);

    await b.revive();
    await waitFor(() => lb.backends().ready(b.addr), 2 * INTERVAL + 50, 'b to come back');
    const picks = new Set(Array.from({ length: 4 }, () => lb.select('', 2)?.addr));
    expect(picks).toEqual(new Set([a.addr, b.addr]));
    expect(events).toEqual([`${b.addr} down`, `${b.addr} up`]);
  });

  it('runs discovery at its own frequency and keeps health across updates', async () => {
    const a = await startTcpServer();
    const dead = new Backend(`127.0.0.1:${await closedPort()}`);
    const discovery = new StaticDiscovery([new Backend(a.addr), dead]);
    const lb = new LoadBalancer(new Backends(discovery), {
      healthCheck: new TcpHealthCheck({ connectTimeoutMs: 200 }),
      healthCheckFrequencyMs: 10_000, // once, in practice
      updateFrequencyMs: INTERVAL,
    });
    runInBackground(lb);
    await waitFor(() => lb.backends().items().length === 2 && !lb.backends().ready(dead), 1000, 'first round');

    const c = await startTcpServer();
    discovery.add(new Backend(c.addr));
    await waitFor(() => lb.backends().items().length === 3, 2 * INTERVAL + 50, 'discovery of c');
    expect(lb.backends().ready(dead)).toBe(false); // kept across the update
    expect(lb.backends().ready(c.addr)).toBe(true);
  });

  it('stops promptly on abort, in the middle of a wait and of a slow probe', async () => {
    let probes = 0;
    const slow: HealthCheck = {
      check: (_b, signal) =>
        new Promise<void>((resolve, reject) => {
          probes++;
          const t = setTimeout(resolve, 5000);
          signal?.addEventListener('abort', () => {
            clearTimeout(t);
            reject(new Error('aborted'));
          });
        }),
      healthThreshold: () => 1,
    };
    const lb = LoadBalancer.fromBackends(['127.0.0.1:1'], { healthCheck: slow, healthCheckFrequencyMs: INTERVAL });
    const { ac, done } = runInBackground(lb);
    await waitFor(() => probes === 1, 1000, 'the first probe');
    const t0 = Date.now();
    ac.abort();
    await done;
    expect(Date.now() - t0).toBeLessThan(200);
    expect(lb.backends().ready('127.0.0.1:1')).toBe(true); // aborted probe not counted

    // waiting between rounds
    const lb2 = LoadBalancer.fromBackends(['127.0.0.1:1'], { healthCheckFrequencyMs: 60_000 });
    const run2 = runInBackground(lb2);
    await new Promise((r) => setTimeout(r, 20));
    const t1 = Date.now();
    run2.ac.abort();
    await run2.done;
    expect(Date.now() - t1).toBeLessThan(200);
  });

  it('never overlaps two rounds when a round outlasts the interval, and refuses a second run', async () => {
    let active = 0;
    let maxActive = 0;
    let rounds = 0;
    const lb = LoadBalancer.fromBackends(['127.0.0.1:1'], {
      healthCheck: {
        async check() {
          active++;
          rounds++;
          maxActive = Math.max(maxActive, active);
          await new Promise((r) => setTimeout(r, 60));
          active--;
        },
        healthThreshold: () => 1,
      },
      healthCheckFrequencyMs: 20,
    });
    const svc = lb.backgroundService();
    const ac = new AbortController();
    const done = svc.run(ac.signal);
    stops.push(async () => {
      ac.abort();
      await done;
    });
    await expect(svc.run(ac.signal)).rejects.toThrow(/already running/);
    await lb.runHealthCheck(); // a manual round joins the queue, no overlap either
    await waitFor(() => rounds >= 4, 2000, 'four rounds');
    expect(maxActive).toBe(1);
  });

  it('returns after one round when both frequencies are null', async () => {
    const a = await startTcpServer();
    const lb = LoadBalancer.fromBackends([a.addr], { healthCheck: new TcpHealthCheck() });
    await lb.backgroundService().run(new AbortController().signal);
    expect(a.accepted).toBe(1);
  });

  it('logs a failed discovery and keeps going', async () => {
    const errors: string[] = [];
    const noop = () => {};
    let calls = 0;
    const lb = new LoadBalancer(
      new Backends({
        async discover() {
          calls++;
          if (calls === 1) throw new Error('registry unreachable');
          return [new Backend('127.0.0.1:1')];
        },
      }),
      { updateFrequencyMs: 30, logger: { error: (_o, msg) => void errors.push(msg ?? ''), warn: noop, info: noop, debug: noop } },
    );
    runInBackground(lb);
    await waitFor(() => lb.backends().items().length === 1, 1000, 'second discovery');
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/discovery failed/);
  });
});
