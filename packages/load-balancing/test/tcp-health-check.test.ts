import { ProxyError } from '@pingora-ts/core';
import { Backend, LoadBalancer, TcpHealthCheck } from '@pingora-ts/load-balancing';
import { closeAllServers, closedPort, startTcpServer } from './helpers/tcp-server';

afterEach(closeAllServers);

describe('TcpHealthCheck', () => {
  it('succeeds against a listening server (and really connects)', async () => {
    const server = await startTcpServer();
    await new TcpHealthCheck().check(new Backend(server.addr));
    expect(server.accepted).toBe(1);
  });

  it('rejects with ConnectRefused on a closed port', async () => {
    const port = await closedPort();
    const err = await new TcpHealthCheck().check(new Backend(`127.0.0.1:${port}`)).then(
      () => null,
      (e: unknown) => e,
    );
    expect(ProxyError.isProxyError(err)).toBe(true);
    expect((err as ProxyError).kind).toBe('ConnectRefused');
    expect((err as ProxyError).source).toBe('upstream');
    expect((err as ProxyError).context).toBe(`127.0.0.1:${port}`);
  });

  it('rejects at once when aborted', async () => {
    const server = await startTcpServer();
    const ac = new AbortController();
    ac.abort();
    await expect(new TcpHealthCheck().check(new Backend(server.addr), ac.signal)).rejects.toThrow(/aborted/);
  });

  it('validates its options and reports its thresholds', () => {
    const hc = new TcpHealthCheck({ consecutiveSuccess: 3, consecutiveFailure: 2, connectTimeoutMs: 200 });
    expect([hc.healthThreshold(true), hc.healthThreshold(false), hc.connectTimeoutMs]).toEqual([3, 2, 200]);
    expect(() => new TcpHealthCheck({ consecutiveFailure: 0 })).toThrow(/consecutiveFailure/);
    expect(() => new TcpHealthCheck({ connectTimeoutMs: -1 })).toThrow(/connectTimeoutMs/);
  });

  it('takes 2 failures to go down and 3 successes to come back (real server killed and revived)', async () => {
    const up = await startTcpServer();
    const flaky = await startTcpServer();
    const lb = LoadBalancer.fromBackends([up.addr, flaky.addr], {
      healthCheck: new TcpHealthCheck({ consecutiveFailure: 2, consecutiveSuccess: 3, connectTimeoutMs: 500 }),
    });
    const ready = () => lb.backends().ready(flaky.addr);

    await lb.runHealthCheck();
    expect(ready()).toBe(true);

    await flaky.kill();
    await lb.runHealthCheck();
    expect(ready()).toBe(true);
    await lb.runHealthCheck();
    expect(ready()).toBe(false);
    for (let i = 0; i < 4; i++) expect(lb.select('', 2)?.addr).toBe(up.addr);

    await flaky.revive();
    await lb.runHealthCheck();
    await lb.runHealthCheck();
    expect(ready()).toBe(false);
    await lb.runHealthCheck();
    expect(ready()).toBe(true);
    const picked = new Set([lb.select('', 2)?.addr, lb.select('', 2)?.addr]);
    expect(picked).toEqual(new Set([up.addr, flaky.addr]));
  });

  it('checks IPv6 backends when ::1 is available', async () => {
    const { createServer } = await import('node:net');
    const s = createServer((c) => c.destroy());
    const listening = await new Promise<boolean>((resolve) => {
      s.once('error', () => resolve(false));
      s.listen(0, '::1', () => resolve(true));
    });
    if (!listening) return; // no IPv6 loopback here
    try {
      const port = (s.address() as { port: number }).port;
      await new TcpHealthCheck().check(new Backend(`[::1]:${port}`));
    } finally {
      await new Promise<void>((r) => s.close(() => r()));
    }
  });
});
