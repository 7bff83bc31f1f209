import type { Logger } from '@pingora-ts/core';
import { Backends, DnsDiscovery, LoadBalancer, type Backend } from '../src';
import { FakeDnsServer } from '../../../test-support/fake-dns-server';
import { waitFor } from './helpers/tcp-server';

let dns: FakeDnsServer;
beforeEach(async () => {
  dns = await FakeDnsServer.start();
});
afterEach(async () => {
  await dns.close();
});

const list = (bs: readonly Backend[]): string[] => bs.map((b) => `${b.addr}/${b.weight}`);

function logger(lines: string[]): Logger {
  const log = (_o: object, msg?: string): void => void lines.push(msg ?? '');
  return { error: log, warn: log, info: log, debug: () => {} };
}

describe('DnsDiscovery, A/AAAA', () => {
  it('answers every address with the port, sorted, and refreshes after the smallest TTL', async () => {
    dns.set('api.test', [
      { type: 'A', address: '127.0.0.2', ttl: 30 },
      { type: 'A', address: '127.0.0.1', ttl: 10 },
      { type: 'AAAA', address: '::1', ttl: 20 },
    ]);
    const d = new DnsDiscovery({ name: 'api.test', port: 8080, servers: [dns.server] });
    expect(list(await d.discover())).toEqual(['127.0.0.1:8080/1', '127.0.0.2:8080/1', '[::1]:8080/1']);
    expect(d.nextRefreshMs).toBe(10_000);
    // Fresh: answered from the kept answer, no new query.
    const asked = dns.queries.length;
    await d.discover();
    expect(dns.queries.length).toBe(asked);

    const v4 = new DnsDiscovery({ name: 'api.test', port: 80, family: 4, weight: 3, servers: [dns.server] });
    expect(list(await v4.discover())).toEqual(['127.0.0.1:80/3', '127.0.0.2:80/3']);
  });

  it('clamps the TTL to the floor and to the ceiling', async () => {
    dns.set('zero.test', [{ type: 'A', address: '127.0.0.1', ttl: 0 }]);
    dns.set('day.test', [{ type: 'A', address: '127.0.0.1', ttl: 86_400 }]);
    const opts = { port: 80, family: 4 as const, refreshMinMs: 500, refreshMaxMs: 60_000, servers: [dns.server] };
    const zero = new DnsDiscovery({ name: 'zero.test', ...opts });
    await zero.discover();
    expect(zero.nextRefreshMs).toBe(500);
    const day = new DnsDiscovery({ name: 'day.test', ...opts });
    await day.discover();
    expect(day.nextRefreshMs).toBe(60_000);
  });

  it('a failed lookup rejects and the load balancer keeps the last answer; retries back off from the floor', async () => {
    dns.set('api.test', [{ type: 'A', address: '127.0.0.1', ttl: 0 }]);
    const d = new DnsDiscovery({ name: 'api.test', port: 80, family: 4, refreshMinMs: 20, refreshMaxMs: 70, servers: [dns.server], timeoutMs: 200, tries: 1 });
    const lb = new LoadBalancer(new Backends(d));
    await lb.update();
    expect(list(lb.backends().items())).toEqual(['127.0.0.1:80/1']);

    dns.failing = true;
    await new Promise((r) => setTimeout(r, 30)); // past the floor: the answer is stale
    await expect(lb.update()).rejects.toThrow(/DNS lookup of A api\.test failed: .*SERVFAIL.*keeping the last answer \(1 backends\)/);
    expect(list(lb.backends().items())).toEqual(['127.0.0.1:80/1']);
    expect(d.nextRefreshMs).toBe(20);
    await expect(d.discover()).rejects.toThrow(/failed/);
    expect(d.nextRefreshMs).toBe(40);
    await expect(d.discover()).rejects.toThrow(/failed/);
    expect(d.nextRefreshMs).toBe(70); // the ceiling

    dns.failing = false;
    dns.records.delete('api.test'); // NXDOMAIN is a failure too
    await expect(lb.update()).rejects.toThrow(/ENOTFOUND/);
    dns.set('api.test', [{ type: 'A', address: '127.0.0.3', ttl: 0 }]);
    await lb.update();
    expect(list(lb.backends().items())).toEqual(['127.0.0.3:80/1']);
    expect(d.nextRefreshMs).toBe(20);
  });

  it('the background service follows the TTL: a changed answer is swapped in, a failure keeps it and is logged', async () => {
    dns.set('api.test', [{ type: 'A', address: '127.0.0.1', ttl: 0 }]);
    const d = new DnsDiscovery({ name: 'api.test', port: 80, family: 4, refreshMinMs: 50, refreshMaxMs: 100, servers: [dns.server], timeoutMs: 200, tries: 1 });
    const lines: string[] = [];
    const lb = new LoadBalancer(new Backends(d), { logger: logger(lines) });
    const changes: string[][] = [];
    lb.on('change', (bs) => changes.push(list(bs)));
    const ac = new AbortController();
    const done = lb.backgroundService('api').run(ac.signal);
    try {
      await waitFor(() => changes.length === 1, 5000, 'the first answer');
      dns.set('api.test', [
        { type: 'A', address: '127.0.0.1', ttl: 0 },
        { type: 'A', address: '127.0.0.2', ttl: 0 },
      ]);
      await waitFor(() => changes.length === 2, 5000, 'the new answer');
      expect(changes[1]).toEqual(['127.0.0.1:80/1', '127.0.0.2:80/1']);

      dns.failing = true;
      await waitFor(() => lines.some((l) => l.includes('discovery failed')), 5000, 'the failure logged');
      expect(list(lb.backends().items())).toEqual(['127.0.0.1:80/1', '127.0.0.2:80/1']);
      dns.failing = false;
      dns.set('api.test', [{ type: 'A', address: '127.0.0.2', ttl: 0 }]);
      await waitFor(() => changes.length === 3, 5000, 'recovery');
      expect(changes[2]).toEqual(['127.0.0.2:80/1']);
    } finally {
      ac.abort();
      await done;
    }
  });

  it('rejects bad options with a ConfigError', () => {
    expect(() => new DnsDiscovery({ name: 'api.test' })).toThrow(/port must be an integer/);
    expect(() => new DnsDiscovery({ name: '_x._tcp.test', srv: true, port: 80 })).toThrow(/port is not used with srv/);
    expect(() => new DnsDiscovery({ name: 'a b', port: 80 })).toThrow(/name must be a DNS name/);
    expect(() => new DnsDiscovery({ name: 'a.test', port: 80, refreshMinMs: 10, refreshMaxMs: 5 })).toThrow(/refreshMaxMs/);
  });
});

describe('DnsDiscovery, SRV', () => {
  it('uses the lowest priority, each record with its port and weight, and the targets’ TTLs', async () => {
    dns.set('_http._tcp.svc.test', [
      { type: 'SRV', priority: 10, weight: 3, port: 8081, target: 'a.svc.test', ttl: 60 },
      { type: 'SRV', priority: 10, weight: 0, port: 8082, target: 'b.svc.test', ttl: 60 },
      { type: 'SRV', priority: 20, weight: 9, port: 9000, target: 'backup.svc.test', ttl: 60 },
    ]);
    dns.set('a.svc.test', [
      { type: 'A', address: '127.0.0.1', ttl: 7 },
      { type: 'A', address: '127.0.0.3', ttl: 9 },
    ]);
    dns.set('b.svc.test', [{ type: 'A', address: '127.0.0.2', ttl: 5 }]);
    dns.set('backup.svc.test', [{ type: 'A', address: '127.0.0.9', ttl: 5 }]);
    const d = new DnsDiscovery({ name: '_http._tcp.svc.test', srv: true, family: 4, servers: [dns.server] });
    const found = await d.discover();
    expect(list(found)).toEqual(['127.0.0.1:8081/3', '127.0.0.2:8082/1', '127.0.0.3:8081/3']);
    expect(found.map((b) => b.ext.get('hostname'))).toEqual(['a.svc.test', 'b.svc.test', 'a.svc.test']);
    expect(d.nextRefreshMs).toBe(5000);
    expect(dns.queries).not.toContain('A backup.svc.test');
  });

  it('skips a target that does not resolve (logged), fails when none does', async () => {
    dns.set('_http._tcp.svc.test', [
      { type: 'SRV', priority: 1, weight: 1, port: 8081, target: 'a.svc.test', ttl: 60 },
      { type: 'SRV', priority: 1, weight: 1, port: 8082, target: 'gone.svc.test', ttl: 60 },
    ]);
    dns.set('a.svc.test', [{ type: 'A', address: '127.0.0.1', ttl: 7 }]);
    const lines: string[] = [];
    const d = new DnsDiscovery({ name: '_http._tcp.svc.test', srv: true, family: 4, servers: [dns.server], logger: logger(lines) });
    expect(list(await d.discover())).toEqual(['127.0.0.1:8081/1']);
    expect(lines).toEqual(['DNS: SRV target gone.svc.test of _http._tcp.svc.test did not resolve; skipped']);

    dns.records.delete('a.svc.test');
    const d2 = new DnsDiscovery({ name: '_http._tcp.svc.test', srv: true, family: 4, servers: [dns.server] });
    await expect(d2.discover()).rejects.toThrow(/DNS lookup of SRV _http\._tcp\.svc\.test failed: no records; no backends yet/);
  });
});
