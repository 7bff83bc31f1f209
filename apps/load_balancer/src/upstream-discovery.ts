import type { JsonValue, Logger } from '@pingora-ts/core';
import { Backend, Backends, DnsDiscovery, FileDiscovery, StaticDiscovery, type LoadBalancer, type ServiceDiscovery } from '@pingora-ts/load-balancing';
import type { HealthSharing } from './build-services';
import type { UpstreamsConf } from './lb-conf';

/** Whether the backends come from a live source (file, DNS) rather than the config's list. */
export function isDynamic(up: UpstreamsConf): boolean {
  return up.discovery !== undefined && up.discovery.type !== 'static';
}

/**
 * The `Backends` of one service. Static: the config's list, ready at once. File and DNS: the
 * source itself where background services run (`runsDiscovery`); elsewhere (the workers of
 * `threads: N`) an empty list that `shareBackends` fills with what the primary publishes.
 */
export function upstreamBackends(up: UpstreamsConf, runsDiscovery: boolean, logger: Logger): Backends {
  const opts = { newBackendsHealthy: up.discovery?.new_backends_healthy ?? true };
  const d = up.discovery;
  if (d === undefined || d.type === 'static') {
    const list = (up.backends ?? []).map((b) => (typeof b === 'string' ? new Backend(b) : new Backend(b.addr, b.weight)));
    const backends = new Backends(new StaticDiscovery(list), opts);
    backends.replace(list);
    return backends;
  }
  let discovery: ServiceDiscovery;
  let first: Backend[] = [];
  if (!runsDiscovery) discovery = new StaticDiscovery();
  // path / name are there: checkDiscovery in lb-conf.ts requires them.
  else if (d.type === 'file') {
    discovery = new FileDiscovery(d.path!, { pollIntervalMs: d.interval_ms ?? 1000, logger });
    // Read once before the listeners open, so the first requests find the list (-t checked
    // the file; if it broke since, start empty: the background service logs why and retries).
    try {
      first = FileDiscovery.readSync(d.path!);
    } catch {
      first = [];
    }
  }
  else {
    discovery = new DnsDiscovery({
      name: d.name!,
      srv: d.srv ?? false,
      refreshMinMs: d.refresh_min_ms ?? 1000,
      refreshMaxMs: d.refresh_max_ms ?? 300_000,
      logger,
      ...(d.port === undefined ? {} : { port: d.port }),
      ...(d.servers === undefined ? {} : { servers: d.servers }),
    });
  }
  const backends = new Backends(discovery, opts);
  if (first.length > 0) backends.replace(first);
  return backends;
}

/**
 * Discovery runs once, where health checks run (the primary with `threads: N`): one DNS
 * query per TTL rather than one per worker, and every worker routes over the very same
 * list (same order, same hashing ring) instead of N answers that may differ. The list goes
 * to the workers as health does, over core's state channel: each change is published as
 * `[{ addr, weight }]` under `topic`; a worker swaps it in whole, then re-applies the latest
 * health map (`healthTopic`), so a new backend takes its checked state even when the health
 * map came first.
 */
export function shareBackends(lb: LoadBalancer, topic: string, healthTopic: string, { channel, publishes }: HealthSharing): void {
  const backends = lb.backends();
  if (publishes) {
    const publish = (list: readonly Backend[]): void => channel.publish(topic, list.map((b): JsonValue => ({ addr: b.addr, weight: b.weight })));
    // A list read before the start (a file) is published now: discovery's first answer is the same list, no change.
    if (backends.items().length > 0) publish(backends.items());
    lb.on('change', publish);
    return;
  }
  channel.subscribe(topic, (payload) => {
    if (!Array.isArray(payload)) return;
    const list: Backend[] = [];
    for (const item of payload) {
      if (item === null || typeof item !== 'object' || Array.isArray(item)) continue;
      const { addr, weight } = item;
      if (typeof addr === 'string' && typeof weight === 'number') list.push(new Backend(addr, weight));
    }
    backends.replace(list);
    const health = channel.latest(healthTopic);
    if (health === undefined || health === null || typeof health !== 'object' || Array.isArray(health)) return;
    for (const [addr, healthy] of Object.entries(health)) if (typeof healthy === 'boolean') backends.setHealth(addr, healthy);
  });
}
