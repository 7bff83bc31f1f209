/**
 * One scrape over many processes (`threads: N`): the primary sums its own metrics and each
 * worker's (with prom-client's `AggregatorRegistry.aggregate`, each family by its
 * `aggregator`). Counters never go backwards when a worker is replaced: the last counters and
 * histograms a worker reported are kept once it is gone and added to every later scrape
 * (its gauges are dropped). What a worker counted after its last scrape is lost with it.
 */
import { AggregatorRegistry, type Registry } from 'prom-client';
import { familiesOf, isMetricFamilies, type MetricFamily } from './metric-family';

/** A worker's answer to a scrape: its pid and its `ProxyMetrics.snapshot()`. */
export interface WorkerMetrics {
  pid: number;
  payload: unknown;
}

export class MetricsAggregator {
  /** The latest snapshot of each worker, by pid. */
  readonly #last = new Map<number, MetricFamily[]>();
  /** The counters and histograms of workers that are gone, summed. */
  #retired: MetricFamily[] = [];

  /**
   * Combines `own` (this process's snapshot) with the workers' `answers`. `running`: the pids
   * of the workers alive now; a worker that is running but did not answer counts with its
   * last snapshot, one that is gone has its counters kept for good.
   */
  async aggregate(own: MetricFamily[], answers: readonly WorkerMetrics[], running: readonly number[]): Promise<Registry> {
    for (const a of answers) if (isMetricFamilies(a.payload)) this.#last.set(a.pid, a.payload);
    const alive = new Set(running);
    for (const [pid, families] of this.#last) {
      if (alive.has(pid)) continue;
      this.#last.delete(pid);
      await this.keep(families);
    }
    return AggregatorRegistry.aggregate([own, this.#retired, ...this.#last.values()]);
  }

  /**
   * Adds the counters and histograms of `families` to every later scrape for good: a worker
   * that is gone, or what the previous generation counted (a SIGHUP upgrade).
   */
  async keep(families: readonly MetricFamily[]): Promise<void> {
    const kept = monotonic(families);
    if (kept.length > 0) this.#retired = await familiesOf(AggregatorRegistry.aggregate([this.#retired, kept]));
  }

  /** Whether anything is kept from processes that are gone. */
  get keepsAny(): boolean {
    return this.#retired.length > 0;
  }
}

/** The families that only go up: counters and histograms. */
export function monotonic(families: readonly MetricFamily[]): MetricFamily[] {
  return families.filter((f) => f.type === 'counter' || f.type === 'histogram');
}
