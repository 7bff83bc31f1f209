import type { JsonValue, StateChannel } from '@pingora-ts/core';
import type { LoadBalancer } from '@pingora-ts/load-balancing';
import { familiesOf, isMetricFamilies, MetricsAggregator, monotonic, ProxyMetrics, type CacheStorageSize } from '@pingora-ts/observability';
import type { ConnectionPool } from '@pingora-ts/pool';
import type { LbProxy } from './lb-proxy';

/** The `StateChannel.ask` topic the primary scrapes its workers with. */
const METRICS_TOPIC = 'admin:metrics';
/** The `StateChannel.carry` topic of the totals an upgrade hands to the next process. */
const TOTALS_TOPIC = 'admin:metrics-totals';

/** What `LbMetrics` needs of the `Server`. */
export interface MetricsHost {
  readonly role: 'single' | 'primary' | 'worker';
  readonly channel: StateChannel;
  readonly phase: string | undefined;
  workerPids(): number[];
}

/**
 * The load balancer's metrics (on when `admin` is configured): a `ProxyMetrics` in every
 * process, fed by the proxy's channels and by each service's load balancer (attempts and
 * retries). Backend health is reported where the health checks run (the primary, or the one
 * process), so it is counted once. Workers answer the primary's scrape; the primary sums them
 * with its own (`MetricsAggregator`).
 *
 * Across an upgrade (SIGHUP, or `-u` + SIGQUIT) the old process hands its counters and histograms to the new one
 * (`StateChannel.carry`), which adds them to every scrape. From the handoff on, the old one's
 * `/metrics` answers with the totals it handed over (what it counts while it drains is not
 * shown), so a scrape of either generation never sees a counter go backwards.
 */
export class LbMetrics {
  readonly metrics = new ProxyMetrics();
  /** Each service's load balancer, by service name (readiness reads them too). */
  readonly balancers = new Map<string, LoadBalancer>();
  readonly #host: MetricsHost;
  readonly #aggregator = new MetricsAggregator();
  /** Whether the previous generation's totals were looked for (they arrive when the server runs). */
  #inheritChecked = false;
  /** The scrape taken at an upgrade's handoff, served from then on (a failed handoff never enters `graceful-upgrade`). */
  #handedOver: string | null = null;

  /** `checksHealth`: this process runs the health checks and discovery (the one that publishes). */
  constructor(
    host: MetricsHost,
    private readonly checksHealth: boolean,
  ) {
    this.#host = host;
    this.metrics.start();
    if (host.role === 'worker') {
      host.channel.answer(METRICS_TOPIC, async () => (await this.metrics.snapshot()) as unknown as JsonValue);
      return;
    }
    host.channel.carry(TOTALS_TOPIC, async () => {
      const registry = await this.#scrape();
      this.#handedOver = await registry.metrics();
      return monotonic(await familiesOf(registry)) as unknown as JsonValue;
    });
  }

  /** Wires one service: its attempts and retries, and its backends' health where it is checked. */
  wire(service: string, lb: LoadBalancer, proxy: LbProxy): void {
    this.balancers.set(service, lb);
    const upstream = this.metrics.upstream(service);
    lb.observers.push(upstream);
    proxy.onRetry = (addr) => upstream.retried(addr);
    if (!this.checksHealth) return;
    const backends = lb.backends();
    this.metrics.trackBackends(service, () => backends.items().map((b) => ({ addr: b.addr, healthy: backends.ready(b) })));
  }

  trackPool(pool: ConnectionPool): void {
    this.metrics.trackPool(() => pool.stats());
  }

  trackCache(service: string, storage: () => CacheStorageSize | null): void {
    this.metrics.trackCache(service, storage);
  }

  /** The Prometheus text of a scrape: this process, plus every worker in a primary, plus what earlier generations counted. */
  async text(): Promise<string> {
    if (this.#handedOver !== null && this.#host.phase === 'graceful-upgrade') return this.#handedOver;
    return (await this.#scrape()).metrics();
  }

  async #scrape(): Promise<ProxyMetrics['registry']> {
    const host = this.#host;
    if (!this.#inheritChecked) {
      this.#inheritChecked = true;
      const totals = host.channel.inherited(TOTALS_TOPIC);
      if (isMetricFamilies(totals)) await this.#aggregator.keep(totals);
    }
    // One process with nothing kept: its own registry as it is (no aggregation needed).
    if (host.role !== 'primary' && !this.#aggregator.keepsAny) return this.metrics.registry;
    const answers = host.role === 'primary' ? await host.channel.ask(METRICS_TOPIC) : [];
    return this.#aggregator.aggregate(await this.metrics.snapshot(), answers, host.workerPids());
  }

  stop(): void {
    this.metrics.stop();
  }
}
