export { createErrorLogger, LOG_LEVELS, type ErrorLogger, type ErrorLoggerOptions } from './error-logger';
export { AccessLogger, type AccessLogEntry, type AccessLogFormat, type AccessLoggerOptions } from './access-logger';
export { destination, type LogDestination, type LogTarget } from './destination';
export { reopenLogs, reopenOnSignal, type Reopenable, type ReopenOnSignalOptions } from './reopen-on-signal';
export { ProxyMetrics, UpstreamMetrics, type ProxyMetricsOptions, type BackendHealth, type BackendRef, type CacheStorageSize, type SentryCounts, type SpanExportCounts } from './proxy-metrics';
export { MetricsAggregator, monotonic, type WorkerMetrics } from './metrics-aggregator';
export { familiesOf, isMetricFamilies, type MetricFamily, type MetricSample } from './metric-family';
export { CACHE_STATUSES, DURATION_BUCKETS, UPSTREAM_OUTCOMES, type UpstreamOutcome } from './service-stats';
