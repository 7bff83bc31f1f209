import { readCaFile, type JsonValue, type Logger, type Service, type StateChannel } from '@pingora-ts/core';
import type { LoadBalancer } from '@pingora-ts/load-balancing';
import type { AccessLogger } from '@pingora-ts/observability';
import { ConnectionPool } from '@pingora-ts/pool';
import { HttpCache, HttpProxy, type Http2Options, type HttpCacheOptions } from '@pingora-ts/proxy';
import { buildLoadBalancer } from './build-load-balancer';
import type { LbConf, ServiceConf } from './lb-conf';
import type { LbAdmin } from './lb-admin';
import { LbProxy, type UpstreamTrust } from './lb-proxy';
import { isDynamic, shareBackends, upstreamBackends } from './upstream-discovery';
import { shareEjections } from './share-ejections';

/**
 * Turns the config into services: per configured service, one `HttpProxy` listening service
 * and, when it has a health check or a file / DNS discovery, one background service that
 * runs them (where background services run; see `shareBackends`). All services share
 * one upstream connection pool, returned too so its counters can be read. `admin` (when
 * configured: metrics, backend control) is wired to every service.
 */
export function buildServices(
  conf: LbConf,
  logger: Logger,
  access: AccessLogger,
  health: HealthSharing,
  admin?: LbAdmin,
): { services: Service[]; pool: ConnectionPool } {
  const pool = new ConnectionPool({ size: conf.upstream_keepalive_pool_size });
  admin?.trackPool(pool);
  // ca_file, as Pingora's: CAs every TLS upstream trusts, read once for all services.
  const caFile = conf.ca_file === undefined ? undefined : readCaFile(conf.ca_file, { path: ['ca_file'] });
  return { services: conf.services.flatMap((svc) => buildService(svc, conf, caFile, pool, logger, access, health, admin)), pool };
}

function buildService(
  svc: ServiceConf,
  conf: LbConf,
  caFile: string | undefined,
  pool: ConnectionPool,
  logger: Logger,
  access: AccessLogger,
  health: HealthSharing,
  admin: LbAdmin | undefined,
): Service[] {
  const up = svc.upstreams;
  const trust = upstreamTrust(up, conf.ca_file, caFile);
  // Health flips and ejections are logged where the checks run; workers only apply what is published.
  const lb = buildLoadBalancer(up, {
    backends: upstreamBackends(up, health.publishes, logger),
    ...(trust === undefined ? {} : { trust }),
    ...(health.publishes ? { logger } : {}),
  });
  const lbProxy = new LbProxy(lb, up, access, trust);
  admin?.wire(svc.name, lb, lbProxy);
  const proxy = new HttpProxy(svc.name, lbProxy, {
    listeners: svc.listeners,
    pool,
    maxRetries: conf.max_retries,
    tunnelIdleTimeoutMs: svc.tunnel_idle_timeout_ms,
    logger,
    ...(svc.http2 === undefined ? {} : { http2: http2Options(svc.http2) }),
    ...(svc.cache?.enabled === true ? { cache: sharedCache(svc.cache, `purge:${svc.name}`, health.channel) } : {}),
  });
  const dynamic = isDynamic(up);
  // Before shareHealth: a new list reaches the workers before the health map that covers it.
  if (dynamic) shareBackends(lb, `backends:${svc.name}`, `health:${svc.name}`, health);
  if (up.passive_health !== undefined) shareEjections(lb, `ejection:${svc.name}`, health.channel);
  if (up.health_check === undefined) return dynamic ? [proxy, lb.backgroundService(`${svc.name} discovery`)] : [proxy];
  shareHealth(lb, `health:${svc.name}`, health);
  return [proxy, lb.backgroundService(`${svc.name} ${dynamic ? 'discovery and health check' : 'health check'}`)];
}

/**
 * The extra CAs a service's TLS upstreams trust (beside Node's defaults): `ca_file`, then the
 * service's own `ca_path`. Keyed by both paths, so peers trusting other CAs never share a connection.
 */
function upstreamTrust(up: ServiceConf['upstreams'], caFilePath: string | undefined, caFile: string | undefined): UpstreamTrust | undefined {
  if (up.tls === undefined) return undefined;
  const caPath = up.tls.ca_path;
  const pems = [caFile, caPath === undefined ? undefined : readCaFile(caPath, { path: ['upstreams', 'tls', 'ca_path'] })].filter((p): p is string => p !== undefined);
  if (pems.length === 0) return undefined;
  return { pem: pems.join('\n'), key: [caFilePath ?? '', caPath ?? ''].join('|') };
}

/**
 * The service's cache. Each worker has its own store, so a `PURGE` (or an invalidation) that
 * one worker serves is published on `topic`, and every worker drops that key from its store.
 */
function sharedCache(c: NonNullable<ServiceConf['cache']>, topic: string, channel: StateChannel): HttpCache {
  let n = 0;
  const cache = new HttpCache({ ...cacheOptions(c), onPurge: (key) => channel.publish(topic, { key, n: ++n, pid: process.pid }) });
  channel.subscribe(topic, (v) => {
    if (typeof v !== 'object' || v === null || Array.isArray(v) || typeof v.key !== 'string' || v.pid === process.pid) return;
    void cache.storage.purge(v.key).catch(() => {});
  });
  return cache;
}

/** The conf's snake_case `cache` section as HttpProxy's `cache` option. */
function cacheOptions(c: NonNullable<ServiceConf['cache']>): HttpCacheOptions {
  return {
    maxSizeBytes: c.max_size_bytes,
    maxObjectBytes: c.max_object_bytes ?? Math.min(8 * 1024 * 1024, c.max_size_bytes),
    key: c.key,
    lockTimeoutMs: c.lock_timeout_ms,
    statusHeader: c.status_header,
    purgeAllow: c.purge_allow,
    policy: { defaultTtlSeconds: c.default_ttl_seconds },
  };
}

/** The conf's snake_case `http2` section as HttpProxy's `http2` option (keys left out keep the proxy's defaults). */
function http2Options(h: NonNullable<ServiceConf['http2']>): Http2Options {
  const out: Http2Options = {};
  if (h.max_concurrent_streams !== undefined) out.maxConcurrentStreams = h.max_concurrent_streams;
  if (h.initial_window_size !== undefined) out.initialWindowSize = h.initial_window_size;
  if (h.max_header_list_size !== undefined) out.maxHeaderListSize = h.max_header_list_size;
  if (h.stall_timeout_ms !== undefined) out.stallTimeoutMs = h.stall_timeout_ms;
  if (h.max_resets_per_second !== undefined) out.maxResetsPerSecond = h.max_resets_per_second;
  if (h.max_control_frames_per_second !== undefined) out.maxControlFramesPerSecond = h.max_control_frames_per_second;
  return out;
}

/** How health state crosses processes: core's state channel, and whether this process publishes. */
export interface HealthSharing {
  channel: StateChannel;
  /** True where the health checks run (the one process with `threads: 1`, else the primary). */
  publishes: boolean;
}

/**
 * Health checks run once, where background services run; every worker's LoadBalancer takes
 * the health map they publish, so all workers route around the same dead backends.
 */
function shareHealth(lb: LoadBalancer, topic: string, { channel, publishes }: HealthSharing): void {
  const backends = lb.backends();
  if (publishes) {
    const publish = (): void => {
      const map: Record<string, JsonValue> = {};
      for (const b of backends.items()) map[b.addr] = backends.isHealthy(b);
      channel.publish(topic, map);
    };
    lb.on('health', publish);
    // A discovery update brings backends whose health the workers do not know yet.
    lb.on('change', publish);
    return;
  }
  channel.subscribe(topic, (map) => {
    if (typeof map !== 'object' || map === null || Array.isArray(map)) return;
    for (const [addr, healthy] of Object.entries(map)) if (typeof healthy === 'boolean') backends.setHealth(addr, healthy);
  });
}
