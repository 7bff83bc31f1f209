/**
 * Sets up the OpenTelemetry SDK in a process that serves requests (the one process, or each
 * worker): a tracer provider whose new traces are kept at `sample_ratio` (decided before the
 * SDK, see `RootSamplingTracerProvider`) and the rest follow their parent (ParentBased), the W3C
 * trace context propagator, and spans batched to an OTLP/HTTP (JSON) collector through a bounded
 * queue. Registered globally before the services listen, so each `HttpProxy` finds it
 * (`@pingora-ts/proxy` only uses `@opentelemetry/api`). The SDK is imported here, on demand: a
 * load balancer without `tracing:` never loads it (about 17 MiB of RSS).
 */
import { propagation, trace } from '@opentelemetry/api';
import type { Logger } from '@pingora-ts/core';
import { BoundedBatchSpanProcessor, type SpanExportStats } from './bounded-batch-span-processor';
import { RootSamplingTracerProvider } from './root-sampling-tracer-provider';
import { tracesUrl, type TracingConf } from './tracing-conf';

/** At most one warning line per this long about dropped spans. */
const WARN_EVERY_MS = 60_000;

/** The running SDK of this process. */
export interface Tracing {
  /** Spans exported and dropped so far (for metrics). */
  stats(): SpanExportStats;
  /** Exports what is queued (within `timeoutMs`) and stops; the proxy's spans go nowhere after. */
  shutdown(timeoutMs: number): Promise<void>;
}

function totals(s: SpanExportStats): Record<string, number> {
  return { total_dropped: s.dropped, total_queue_full: s.queueFull, total_export_failed: s.exportFailed, total_exported: s.exported };
}

export async function startTracing(conf: TracingConf, logger: Logger, serviceVersion: string): Promise<Tracing> {
  const [{ W3CTraceContextPropagator }, { OTLPTraceExporter }, { resourceFromAttributes }, { AlwaysOnSampler, BasicTracerProvider, ParentBasedSampler }] = await Promise.all([
    import('@opentelemetry/core'),
    import('@opentelemetry/exporter-trace-otlp-http'),
    import('@opentelemetry/resources'),
    import('@opentelemetry/sdk-trace-base'),
  ]);
  const exporter = new OTLPTraceExporter({ url: tracesUrl(conf.otlp_endpoint), timeoutMillis: conf.export_timeout_ms });
  let lastWarn = -Infinity;
  let droppedSinceWarn = 0;
  const processor = new BoundedBatchSpanProcessor(
    exporter,
    {
      maxQueueSize: conf.max_queue_size,
      maxExportBatchSize: conf.max_export_batch_size,
      exportDelayMs: conf.export_delay_ms,
      exportTimeoutMs: conf.export_timeout_ms,
    },
    (reason, count, error) => {
      droppedSinceWarn += count;
      const now = performance.now();
      if (now - lastWarn < WARN_EVERY_MS) return;
      lastWarn = now;
      logger.warn(
        { reason, dropped: droppedSinceWarn, ...totals(processor.stats()), endpoint: conf.otlp_endpoint, err: error?.message },
        'tracing: spans dropped (the collector is down, slow or refusing them); next report in a minute at the earliest',
      );
      droppedSinceWarn = 0;
    },
  );
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ 'service.name': conf.service_name, 'service.version': serviceVersion }),
    // New traces are sampled at sample_ratio before the SDK (RootSamplingTracerProvider); the rest follow their parent.
    sampler: new ParentBasedSampler({ root: new AlwaysOnSampler() }),
    spanProcessors: [processor],
  });
  trace.setGlobalTracerProvider(new RootSamplingTracerProvider(provider, conf.sample_ratio));
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  logger.info({ endpoint: tracesUrl(conf.otlp_endpoint), service_name: conf.service_name, sample_ratio: conf.sample_ratio }, 'tracing to an OTLP collector');
  return {
    stats: () => processor.stats(),
    shutdown: async (timeoutMs) => {
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, timeoutMs);
        timer.unref();
      });
      await Promise.race([provider.shutdown().catch(() => {}), late]);
      clearTimeout(timer);
    },
  };
}
