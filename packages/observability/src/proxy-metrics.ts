/**
 * Prometheus metrics for pingora-ts proxies (`prom-client`). The proxy does not know this
 * package: it publishes on `node:diagnostics_channel` (request start and end, each upstream
 * connection), and `ProxyMetrics` subscribes by channel name. What only the app knows (how
 * an attempt ended for the load balancer, backend health, the pool) it reports through
 * `upstream(service)`, `trackBackends` and `trackPool`.
 *
 * Counting is plain arithmetic on the hot path (`ServiceStats`); prom-client's samples are
 * built at scrape time. Label values are bounded: `service` is a proxy's configured name,
 * `status` the numeric status, `backend` an address from a backend list (never a request's
 * path or host), `outcome` and `reused` fixed sets.
 */
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { familiesOf, registerCollected, type MetricFamily, type MetricSample } from './metric-family';
import { BackendStats, CACHE_STATUSES, DURATION_BUCKETS, ServiceStats, UPSTREAM_OUTCOMES } from './service-stats';

/** The proxy's channels (`CHANNELS` in `@pingora-ts/proxy`), by name so nothing is imported. */
const REQUEST_START = 'pingora-ts:proxy:request-start';
const REQUEST = 'pingora-ts:proxy:request';
const UPSTREAM_CONNECTION = 'pingora-ts:proxy:upstream-connection';

/** The fields read from the proxy's messages. */
interface ServiceMessage {
  service: string;
}
interface RequestMessage extends ServiceMessage {
  status: number;
  durationMs: number;
  /** The proxy's `Session`: only its cache status is read. */
  session?: { cache: { status: string | null; background: boolean } | null };
}

/** What a service's cache store holds (`HttpProxy.stats().cache.storage`). */
export interface CacheStorageSize {
  sizeBytes: number;
  entries: number;
  evictions: number;
}
interface ConnectionMessage extends ServiceMessage {
  address: string;
  reused: boolean;
}

export interface ProxyMetricsOptions {
  /** Where the metrics are registered. Default: a new `Registry`. */
  registry?: Registry;
  /** Node's default process metrics (prom-client's `collectDefaultMetrics`) too. Default `true`. */
  defaultMetrics?: boolean;
}

/** A span exporter's counts (the load balancer's `BoundedBatchSpanProcessor.stats()`). */
export interface SpanExportCounts {
  exported: number;
  /** Dropped because the queue was full (the collector slower than the spans). */
  queueFull: number;
  /** Dropped because their export failed or timed out. */
  exportFailed: number;
}

/** A Sentry reporter's counts (`SentryReporter.sent` / `.dropped`). */
export interface SentryCounts {
  sent: number;
  dropped: number;
}

/** One backend's health, as `trackBackends` reports it. */
export interface BackendHealth {
  addr: string;
  /** Takes traffic: healthy, not ejected, enabled. */
  healthy: boolean;
}

/** A backend as the load balancer hands it over (only its address is read). */
export interface BackendRef {
  readonly addr: string;
}

/**
 * One service's upstream attempts: a `RequestObserver` of `@pingora-ts/load-balancing`
 * (push it on `loadBalancer.observers`), plus `retried`.
 */
export class UpstreamMetrics {
  constructor(private readonly stats: ServiceStats) {}

  requestStarted(backend: BackendRef): void {
    this.stats.backend(backend.addr);
  }

  /** `outcome`: `ok`, `http_5xx`, `connect_error`, `timeout` or `reset`. */
  requestEnded(backend: BackendRef, outcome: string, _latencyMs: number): void {
    this.stats.backend(backend.addr).count(outcome);
  }

  /** The attempt on `addr` failed and the request is tried again (counted besides its outcome). */
  retried(addr: string): void {
    this.stats.backend(addr).count('retried');
  }
}

export class ProxyMetrics {
  readonly registry: Registry;
  readonly #services = new Map<string, ServiceStats>();
  /** The last service looked up: most processes serve one. */
  #last: ServiceStats | null = null;
  readonly #health = new Map<string, () => Iterable<BackendHealth>>();
  #pool: (() => { idleConnections: number }) | null = null;
  readonly #caches = new Map<string, () => CacheStorageSize | null>();
  #spans: (() => SpanExportCounts) | null = null;
  #sentry: (() => SentryCounts) | null = null;
  #started = false;

  readonly #onStart = (m: unknown): void => {
    this.#service((m as ServiceMessage).service).inflight++;
  };
  readonly #onRequest = (m: unknown): void => {
    const r = m as RequestMessage;
    const s = this.#service(r.service);
    s.inflight--;
    s.finished(r.status, r.durationMs / 1000);
    const cache = r.session?.cache;
    if (cache != null && cache.status !== null) s.cached(cache.status, cache.background);
  };
  readonly #onConnection = (m: unknown): void => {
    const c = m as ConnectionMessage;
    const s = this.#service(c.service);
    // Only addresses a backend list named become labels; anything else is `other`.
    const b = s.backends.get(c.address) ?? s.other;
    if (c.reused) b.reusedConnections++;
    else b.newConnections++;
  };

  constructor(opts: ProxyMetricsOptions = {}) {
    this.registry = opts.registry ?? new Registry();
    if (opts.defaultMetrics !== false) collectDefaultMetrics({ register: this.registry });
    this.#register();
  }

  /** Subscribes to the proxy's channels (idempotent). Until then nothing is counted. */
  start(): this {
    if (this.#started) return this;
    this.#started = true;
    subscribe(REQUEST_START, this.#onStart);
    subscribe(REQUEST, this.#onRequest);
    subscribe(UPSTREAM_CONNECTION, this.#onConnection);
    return this;
  }

  /** Unsubscribes (idempotent); the counts so far stay. */
  stop(): void {
    if (!this.#started) return;
    this.#started = false;
    unsubscribe(REQUEST_START, this.#onStart);
    unsubscribe(REQUEST, this.#onRequest);
    unsubscribe(UPSTREAM_CONNECTION, this.#onConnection);
  }

  /** The observer of `service`'s upstream attempts (see `UpstreamMetrics`). */
  upstream(service: string): UpstreamMetrics {
    return new UpstreamMetrics(this.#service(service));
  }

  /** `pingora_ts_backend_healthy{service,backend}` reads `list()` at each scrape. */
  trackBackends(service: string, list: () => Iterable<BackendHealth>): void {
    this.#health.set(service, list);
  }

  /** `pingora_ts_upstream_idle_connections` reads `stats()` (e.g. `ConnectionPool.stats`) at each scrape. */
  trackPool(stats: () => { idleConnections: number }): void {
    this.#pool = stats;
  }

  /** `pingora_ts_cache_size_bytes`, `…_entries`, `…_evictions_total` of `service` read `storage()` (e.g. `() => proxy.stats().cache?.storage ?? null`) at each scrape. */
  trackCache(service: string, storage: () => CacheStorageSize | null): void {
    this.#caches.set(service, storage);
  }

  /** `pingora_ts_tracing_spans_exported_total` and `…_dropped_total{reason}` read `counts()` at each scrape. */
  trackSpanExport(counts: () => SpanExportCounts): void {
    this.#spans = counts;
  }

  /** `pingora_ts_sentry_events_sent_total` and `…_dropped_total` (Sentry events) read `counts()` at each scrape. */
  trackSentry(counts: () => SentryCounts): void {
    this.#sentry = counts;
  }

  /** This process's metrics as JSON (what a worker hands the primary). */
  snapshot(): Promise<MetricFamily[]> {
    return familiesOf(this.registry);
  }

  /** This process's metrics in the Prometheus text format. */
  text(): Promise<string> {
    return this.registry.metrics();
  }

  #service(name: string): ServiceStats {
    const last = this.#last;
    if (last !== null && last.name === name) return last;
    let s = this.#services.get(name);
    if (s === undefined) {
      s = new ServiceStats(name);
      this.#services.set(name, s);
    }
    this.#last = s;
    return s;
  }

  #register(): void {
    const r = this.registry;
    const services = (): Iterable<ServiceStats> => this.#services.values();
    registerCollected(r, { name: 'pingora_ts_requests_total', help: 'Requests finished, by service and status sent (0: none).', type: 'counter', aggregator: 'sum' }, () => {
      const out: MetricSample[] = [];
      for (const s of services()) {
        const st = s.statuses;
        for (let i = 0; i < st.length; i++) if (st[i]! > 0) out.push({ value: st[i]!, labels: { service: s.name, status: String(i) } });
      }
      return out;
    });
    const duration = 'pingora_ts_request_duration_seconds';
    registerCollected(r, { name: duration, help: 'Time from a request to the end of its response, by service.', type: 'histogram', aggregator: 'sum' }, () => {
      const out: MetricSample[] = [];
      for (const s of services()) {
        let cumulative = 0;
        for (let i = 0; i < DURATION_BUCKETS.length; i++) {
          cumulative += s.buckets[i]!;
          out.push({ metricName: `${duration}_bucket`, value: cumulative, labels: { le: DURATION_BUCKETS[i]!, service: s.name } });
        }
        out.push({ metricName: `${duration}_bucket`, value: s.count, labels: { le: '+Inf', service: s.name } });
        out.push({ metricName: `${duration}_sum`, value: s.durationSum, labels: { service: s.name } });
        out.push({ metricName: `${duration}_count`, value: s.count, labels: { service: s.name } });
      }
      return out;
    });
    registerCollected(r, { name: 'pingora_ts_inflight_requests', help: 'Requests started and not finished, by service.', type: 'gauge', aggregator: 'sum' }, () =>
      [...services()].map((s) => ({ value: Math.max(0, s.inflight), labels: { service: s.name } })),
    );
    registerCollected(r, { name: 'pingora_ts_upstream_requests_total', help: 'Upstream attempts by how they ended; retried counts a failed attempt that was tried again, besides its outcome.', type: 'counter', aggregator: 'sum' }, () => {
      const out: MetricSample[] = [];
      for (const s of services()) {
        for (const [addr, b] of s.backends) {
          b.outcomes.forEach((n, i) => {
            if (n > 0) out.push({ value: n, labels: { service: s.name, backend: addr, outcome: UPSTREAM_OUTCOMES[i]! } });
          });
        }
      }
      return out;
    });
    registerCollected(r, { name: 'pingora_ts_upstream_connections_total', help: 'Upstream connections used by attempts, new (reused="false") or from the pool.', type: 'counter', aggregator: 'sum' }, () => {
      const out: MetricSample[] = [];
      const push = (s: ServiceStats, backend: string, b: BackendStats): void => {
        if (b.newConnections > 0) out.push({ value: b.newConnections, labels: { service: s.name, backend, reused: 'false' } });
        if (b.reusedConnections > 0) out.push({ value: b.reusedConnections, labels: { service: s.name, backend, reused: 'true' } });
      };
      for (const s of services()) {
        for (const [addr, b] of s.backends) push(s, addr, b);
        push(s, 'other', s.other);
      }
      return out;
    });
    registerCollected(r, { name: 'pingora_ts_upstream_idle_connections', help: 'Idle upstream connections kept in the pool for reuse.', type: 'gauge', aggregator: 'sum' }, () =>
      this.#pool === null ? [] : [{ value: this.#pool().idleConnections, labels: {} }],
    );
    registerCollected(r, { name: 'pingora_ts_cache_requests_total', help: 'Requests of a service with an HTTP cache, by cache status (HIT, MISS, EXPIRED, STALE, REVALIDATED, BYPASS).', type: 'counter', aggregator: 'sum' }, () => {
      const out: MetricSample[] = [];
      for (const s of services()) {
        for (let i = 0; i < s.cache.length; i++) if (s.cache[i]! > 0) out.push({ value: s.cache[i]!, labels: { service: s.name, status: CACHE_STATUSES[i]! } });
      }
      return out;
    });
    registerCollected(r, { name: 'pingora_ts_cache_background_refreshes_total', help: 'Background cache refreshes (stale-while-revalidate) run.', type: 'counter', aggregator: 'sum' }, () => {
      const out: MetricSample[] = [];
      for (const s of services()) if (s.cacheRefreshes > 0) out.push({ value: s.cacheRefreshes, labels: { service: s.name } });
      return out;
    });
    const storage = (field: keyof CacheStorageSize): MetricSample[] => {
      const out: MetricSample[] = [];
      for (const [service, read] of this.#caches) {
        const st = read();
        if (st !== null) out.push({ value: st[field], labels: { service } });
      }
      return out;
    };
    registerCollected(r, { name: 'pingora_ts_cache_size_bytes', help: 'Bytes the HTTP cache holds (bodies and heads).', type: 'gauge', aggregator: 'sum' }, () => storage('sizeBytes'));
    registerCollected(r, { name: 'pingora_ts_cache_entries', help: 'Responses the HTTP cache holds.', type: 'gauge', aggregator: 'sum' }, () => storage('entries'));
    registerCollected(r, { name: 'pingora_ts_cache_evictions_total', help: 'Responses evicted from the HTTP cache to make room.', type: 'counter', aggregator: 'sum' }, () => storage('evictions'));
    registerCollected(r, { name: 'pingora_ts_tracing_spans_exported_total', help: 'Spans the OTLP exporter delivered.', type: 'counter', aggregator: 'sum' }, () =>
      this.#spans === null ? [] : [{ value: this.#spans().exported, labels: {} }],
    );
    registerCollected(r, { name: 'pingora_ts_tracing_spans_dropped_total', help: 'Spans dropped: queue_full (the collector slower than the spans) or export_failed (down, slow or refusing).', type: 'counter', aggregator: 'sum' }, () => {
      if (this.#spans === null) return [];
      const c = this.#spans();
      return [
        { value: c.queueFull, labels: { reason: 'queue_full' } },
        { value: c.exportFailed, labels: { reason: 'export_failed' } },
      ];
    });
    registerCollected(r, { name: 'pingora_ts_sentry_events_sent_total', help: 'Sentry events the ingest accepted.', type: 'counter', aggregator: 'sum' }, () =>
      this.#sentry === null ? [] : [{ value: this.#sentry().sent, labels: {} }],
    );
    registerCollected(r, { name: 'pingora_ts_sentry_events_dropped_total', help: 'Sentry events dropped: too many in flight, or the ingest down, slow or refusing.', type: 'counter', aggregator: 'sum' }, () =>
      this.#sentry === null ? [] : [{ value: this.#sentry().dropped, labels: {} }],
    );
    registerCollected(r, { name: 'pingora_ts_backend_healthy', help: 'Whether a backend takes traffic (1) or not (0: unhealthy, ejected or disabled).', type: 'gauge', aggregator: 'max' }, () => {
      const out: MetricSample[] = [];
      for (const [service, list] of this.#health) for (const b of list()) out.push({ value: b.healthy ? 1 : 0, labels: { service, backend: b.addr } });
      return out;
    });
  }
}
