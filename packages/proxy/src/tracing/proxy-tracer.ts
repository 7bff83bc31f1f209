/**
 * Which tracer the proxy uses, decided once per `HttpProxy` (see docs/tracing.md): requests pay
 * for spans only when this returns a tracer, so a process without an OpenTelemetry SDK pays one
 * null check per request and per attempt.
 */
import { ProxyTracerProvider, trace, type Tracer, type TracerProvider } from '@opentelemetry/api';

/** The instrumentation scope of the proxy's spans. */
export const TRACER_NAME = '@pingora-ts/proxy';

/**
 * `HttpProxyOptions.tracing`: a `TracerProvider` to use; `true`: the global one (even if none is
 * registered yet); `false`: no spans; `undefined`: the global one if a provider is registered
 * when the proxy starts listening, else no spans.
 */
export type TracingOption = boolean | TracerProvider | undefined;

/** The tracer for `option`, or null when the proxy makes no spans. */
export function proxyTracer(option: TracingOption): Tracer | null {
  if (option === false) return null;
  if (option === true) return trace.getTracer(TRACER_NAME);
  if (option !== undefined) return option.getTracer(TRACER_NAME);
  return globalProviderRegistered() ? trace.getTracer(TRACER_NAME) : null;
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
