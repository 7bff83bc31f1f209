import type { JsonValue, StateChannel } from '@pingora-ts/core';
import type { LoadBalancer } from '@pingora-ts/load-balancing';
import { MetricsAggregator, ProxyMetrics } from '@pingora-ts/observability';
import type { ConnectionPool } from '@pingora-ts/pool';
import type { LbProxy } from './lb-proxy';

/** The `StateChannel.ask` topic the primary scrapes its workers with. */
const METRICS_TOPIC = 'admin:metrics';

/** What `LbMetrics` needs of the `Server`. */
export interface MetricsHost {
  readonly role: 'single' | 'primary' | 'worker';
  readonly channel: StateChannel;
  workerPids(): number[];
}

/**
 * The load balancer's metrics (on when `admin` is configured): a `ProxyMetrics` in every
 * process, fed by the proxy's channels and by each service's load balancer (attempts and
 * retries). Backend health is reported where the health checks run (the primary, or the one
 * process), so it is counted once. Workers answer the primary's scrape; the primary sums them
 * with its own (`MetricsAggregator`).
 */
export class LbMetrics {
  readonly metrics = new ProxyMetrics();
  /** Each service's load balancer, by service name (readiness reads them too). */
  readonly balancers = new Map<string, LoadBalancer>();
  readonly #host: MetricsHost;
  readonly #aggregator = new MetricsAggregator();

  /** `checksHealth`: this process runs the health checks and discovery (the one that publishes). */
  constructor(
    host: MetricsHost,
    private readonly checksHealth: boolean,
  ) {
    this.#host = host;
    this.metrics.start();
    if (host.role === 'worker') host.channel.answer(METRICS_TOPIC, async () => (await this.metrics.snapshot()) as unknown as JsonValue);
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

  /** The Prometheus text of a scrape: this process, plus every worker in a primary. */
  async text(): Promise<string> {
    const host = this.#host;
    if (host.role !== 'primary') return this.metrics.text();
    const answers = await host.channel.ask(METRICS_TOPIC);
    const registry = await this.#aggregator.aggregate(await this.metrics.snapshot(), answers, host.workerPids());
    return registry.metrics();
  }

  stop(): void {
    this.metrics.stop();
  }
}
