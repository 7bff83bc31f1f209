import { z } from 'zod';

/**
 * `tracing:` in the load balancer's config: OpenTelemetry spans exported over OTLP/HTTP (JSON)
 * to a collector. Absent: no SDK is loaded and the proxy makes no spans.
 */
export const tracingSchema = z
  .strictObject({
    /** The collector's OTLP/HTTP base URL (`http://host:4318`: spans go to `/v1/traces`), or a full URL with a path. */
    otlp_endpoint: z.string().refine(isHttpUrl, 'expected an http:// or https:// URL such as "http://127.0.0.1:4318"'),
    /** The `service.name` resource attribute (default `load_balancer`). */
    service_name: z.string().min(1).default('load_balancer'),
    /** Share of new traces recorded (0-1, default 1); a request with a client's `traceparent` follows the client's decision. */
    sample_ratio: z.number().min(0).max(1).default(1),
    /** Most finished spans waiting for export, per worker; more are dropped and counted (default 2048). */
    max_queue_size: z.number().int().min(1).max(1_000_000).default(2048),
    /** Most spans per export request (default 512; at most max_queue_size). */
    max_export_batch_size: z.number().int().min(1).default(512),
    /** A batch goes out this long after its first span at the latest (default 5000). */
    export_delay_ms: z.number().int().min(1).default(5000),
    /** An export not answered in this long fails and its spans are dropped (default 10000). */
    export_timeout_ms: z.number().int().min(1).default(10000),
  })
  .refine((t) => t.max_export_batch_size <= t.max_queue_size, { path: ['max_export_batch_size'], message: 'must not exceed max_queue_size' });

export type TracingConf = z.infer<typeof tracingSchema>;

function isHttpUrl(s: string): boolean {
  try {
    const u = new URL(s);
    return (u.protocol === 'http:' || u.protocol === 'https:') && u.hostname !== '';
  } catch {
    return false;
  }
}

/** Where the spans are POSTed: the endpoint's `/v1/traces` when it names no path (OTLP's rule for a base URL). */
export function tracesUrl(endpoint: string): string {
  const u = new URL(endpoint);
  if (u.pathname === '/' || u.pathname === '') u.pathname = '/v1/traces';
  return u.toString();
}
