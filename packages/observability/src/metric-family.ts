/**
 * A metric family as JSON, the shape prom-client's `registry.getMetricsAsJSON()` returns and
 * `AggregatorRegistry.aggregate` reads: what one process hands the primary in a scrape.
 */
import type { Aggregator, Metric, Registry } from 'prom-client';

export interface MetricSample {
  value: number;
  labels: Record<string, string | number>;
  /** Histograms: `<name>_bucket`, `<name>_sum`, `<name>_count`. */
  metricName?: string;
}

export interface MetricFamily {
  name: string;
  help: string;
  type: 'counter' | 'gauge' | 'histogram' | 'summary';
  /** How the primary combines the workers' values (prom-client's aggregators). */
  aggregator: Aggregator;
  values: MetricSample[];
}

/**
 * Registers a family whose samples `collect()` computes at scrape time: the counting itself
 * happens in plain numbers on the hot path, never through prom-client's per-call label
 * hashing. prom-client's registry only needs `name`, `get()` and `reset()` of a metric.
 */
export function registerCollected(registry: Registry, family: Omit<MetricFamily, 'values'>, collect: () => MetricSample[]): void {
  const metric = {
    ...family,
    get: (): MetricFamily => ({ ...family, values: collect() }),
    reset: (): void => {},
  };
  registry.registerMetric(metric as unknown as Metric);
}

/** Whether `value` looks like the `MetricFamily[]` a worker sent (it crossed a process boundary). */
export function isMetricFamilies(value: unknown): value is MetricFamily[] {
  return Array.isArray(value) && value.every((f) => typeof f === 'object' && f !== null && typeof (f as MetricFamily).name === 'string' && Array.isArray((f as MetricFamily).values));
}

/** `registry.getMetricsAsJSON()`, typed as it is at run time (prom-client's types give `type` as a numeric enum; it is the string). */
export async function familiesOf(registry: Registry): Promise<MetricFamily[]> {
  return (await registry.getMetricsAsJSON()) as unknown as MetricFamily[];
}
