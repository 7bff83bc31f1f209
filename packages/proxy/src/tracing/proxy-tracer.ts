/**
 * Which tracer the proxy uses, decided once per `HttpProxy` (see docs/tracing.md): requests pay
 * for spans only when this returns a tracer, so a process without an OpenTelemetry SDK pays one
 * null check per request and per attempt.
 */
import { propagation, ProxyTracerProvider, trace, type Tracer, type TracerProvider } from '@opentelemetry/api';

/** The instrumentation scope of the proxy's spans. */
export const TRACER_NAME = '@pingora-ts/proxy';

/**
 * `HttpProxyOptions.tracing`: a `TracerProvider` to use; `true`: the global one (even if none is
 * registered yet); `false`: no spans; `undefined`: the global one if a provider is registered
 * when the proxy starts listening, else no spans.
 */
export type TracingOption = boolean | TracerProvider | undefined;

/** What the requests of one proxy trace with, taken once when it starts listening. */
export interface ProxyTracing {
  readonly tracer: Tracer;
  /**
   * The header names the registered propagator uses (`propagation.fields()`, lower-cased): a
   * request without any of them skips extraction, and they are replaced upstream. A propagator
   * registered after `listen()` is used, but with the fields of the one before.
   */
  readonly fields: readonly string[];
}

/** How the proxy traces for `option`, or null when it makes no spans. */
export function proxyTracing(option: TracingOption): ProxyTracing | null {
  let tracer: Tracer | null;
  if (option === false) tracer = null;
  else if (option === true) tracer = trace.getTracer(TRACER_NAME);
  else if (option !== undefined) tracer = option.getTracer(TRACER_NAME);
  else tracer = globalProviderRegistered() ? trace.getTracer(TRACER_NAME) : null;
  if (tracer === null) return null;
  return { tracer, fields: propagation.fields().map((f) => f.toLowerCase()) };
}

/**
 * Whether an SDK registered a global tracer provider. The API's global is a proxy that delegates
 * to a no-op until one is set; another copy of the API (a provider that is not our proxy class)
 * is taken as registered.
 */
function globalProviderRegistered(): boolean {
  const provider = trace.getTracerProvider();
  if (!(provider instanceof ProxyTracerProvider)) return true;
  return provider.getDelegateTracer(TRACER_NAME) !== undefined;
}

/** Checks the option's type (a TracerProvider has `getTracer`). */
export function isTracingOption(v: unknown): v is TracingOption {
  return v === undefined || typeof v === 'boolean' || (typeof v === 'object' && v !== null && typeof (v as TracerProvider).getTracer === 'function');
}
