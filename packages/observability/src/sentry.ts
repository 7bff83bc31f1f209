/**
 * Error reporting to Sentry (`@pingora-ts/observability/sentry`; `@sentry/node` is an optional
 * peer dependency, needed only by this entry).
 *
 * A `NodeClient` made directly, not `Sentry.init()`: init registers ESM loader hooks
 * (import-in-the-middle), sets up an OpenTelemetry tracer provider and context manager, and
 * its default integrations patch `http`, `fetch` and `console` and add process handlers.
 * This client has one integration (`linkedErrors`, for `cause` chains) and patches nothing,
 * so the request path costs nothing until an error is reported. It sets no global client:
 * several reporters can live in one process (tests), and an app's own `Sentry.init` is left
 * alone.
 *
 * ```
 * HttpProxy --diagnostics_channel 'pingora-ts:proxy:internal-error'--> SentryReporter
 * Server 'worker-exit' (the app wires it) ---------------------------> SentryReporter
 * SentryReporter --beforeSend (scrub)--> transport (≤ maxQueue in flight, timeoutMs each) --> ingest
 * ```
 */
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { request as httpRequest, type ClientRequest, type RequestOptions } from 'node:http';
import { request as httpsRequest } from 'node:https';
import {
  NodeClient,
  Scope,
  defaultStackParser,
  linkedErrorsIntegration,
  makeNodeTransport,
  type ErrorEvent,
  type SeverityLevel,
} from '@sentry/node';

/** The proxy's internal-error channel (`CHANNELS.internalError` in `@pingora-ts/proxy`). */
export const PROXY_INTERNAL_ERROR_CHANNEL = 'pingora-ts:proxy:internal-error';

/** Request headers never sent to Sentry (lower case). */
export const SCRUBBED_HEADERS: readonly string[] = ['authorization', 'proxy-authorization', 'cookie', 'set-cookie'];

export interface SentryReporterOptions {
  /** `https://<public key>@<host>/<project id>`. */
  dsn: string;
  environment?: string | undefined;
  /** Share of events sent, 0..1 (default 1). */
  sampleRate?: number | undefined;
  release?: string | undefined;
  /** Tags on every event (e.g. `{ role: 'worker', worker: '2' }`). */
  tags?: Readonly<Record<string, string>> | undefined;
  /** Most events being sent at once; more are dropped and counted (default 32). */
  maxQueue?: number | undefined;
  /** A send that has not been answered by then is abandoned and counted as dropped (default 5000 ms). */
  timeoutMs?: number | undefined;
}

/** The request an error happened in, as reported. */
export interface ReportedRequest {
  service: string;
  method: string;
  /** The request target; its query is not sent (it may carry tokens). */
  path: string;
  /** Request headers (lower-case names); credentials are scrubbed before sending. */
  headers?: Readonly<Record<string, string | readonly string[] | undefined>> | undefined;
}

/** A worker process that exited unexpectedly (core's `WorkerExit`). */
export interface ReportedWorkerExit {
  worker: number;
  pid?: number | undefined;
  code: number | null;
  signal: string | null;
}

/** The shape of `ProxyInternalErrorMessage` this module reads (it does not import the proxy). */
interface InternalErrorMessageLike {
  service: string;
  phase: string;
  error: unknown;
  session: { method: string; path: string; headers: Readonly<Record<string, string | string[] | undefined>> };
}

/**
 * Sends errors to Sentry with the request they happened in: method, path (no query), service
 * and W3C trace id (from the request's `traceparent`; none without one), never bodies or
 * credentials. When the ingest is down, slow or answers garbage, events are dropped and
 * counted (`dropped`), at most `maxQueue` in flight: requests are never affected.
 */
export class SentryReporter {
  readonly #client: NodeClient;
  readonly #tags: Readonly<Record<string, string>>;
  #sent = 0;
  #dropped = 0;
  readonly #onInternalError = (message: unknown): void => {
    // A subscriber that throws would become an uncaught exception (and stop the server).
    try {
      const m = message as InternalErrorMessageLike;
      const s = m.session;
      this.captureRequestError(m.error, { service: m.service, method: s.method, path: s.path, headers: s.headers }, m.phase);
    } catch {
      this.#dropped++;
    }
  };
  #subscribed = false;

  constructor(opts: SentryReporterOptions) {
    const timeoutMs = opts.timeoutMs ?? 5000;
    this.#tags = opts.tags ?? {};
    const countResult = (r: { statusCode?: number | undefined }): void => {
      if (r.statusCode !== undefined && r.statusCode >= 200 && r.statusCode < 300) this.#sent++;
      else this.#dropped++; // a full queue, a rate limit or an error status
    };
    this.#client = new NodeClient({
      dsn: opts.dsn,
      environment: opts.environment,
      release: opts.release,
      sampleRate: opts.sampleRate ?? 1,
      integrations: [linkedErrorsIntegration()],
      stackParser: defaultStackParser,
      sendClientReports: false,
      maxBreadcrumbs: 0,
      beforeSend: scrubEvent,
      transport: (options) => {
        const inner = makeNodeTransport({ ...options, bufferSize: opts.maxQueue ?? 32, httpModule: timedHttp(timeoutMs) });
        return {
          send: (envelope) =>
            inner.send(envelope).then(
              (r) => {
                countResult(r);
                return r;
              },
              (err: unknown) => {
                this.#dropped++;
                throw err;
              },
            ),
          flush: (timeout) => inner.flush(timeout),
        };
      },
    });
    this.#client.init();
  }

  /** Events the ingest accepted. */
  get sent(): number {
    return this.#sent;
  }

  /** Events lost: ingest down, slow (past `timeoutMs`), answering an error, or the queue full. */
  get dropped(): number {
    return this.#dropped;
  }

  /** Reports a request's failure. `phase`: where (the proxy's `InternalErrorPhase`). Returns the event id. */
  captureRequestError(error: unknown, req: ReportedRequest, phase = 'request'): string {
    const scope = this.#scope();
    const path = pathOnly(req.path);
    scope.setTags({ service: req.service, method: req.method, path: path.slice(0, 200), phase });
    const traceId = traceIdOf(req.headers?.traceparent);
    if (traceId !== undefined) {
      scope.setTag('trace_id', traceId.traceId);
      scope.setContext('trace', { trace_id: traceId.traceId, span_id: traceId.spanId });
    }
    const request = { method: req.method, url: path, headers: requestHeaders(req.headers) };
    scope.addEventProcessor((event) => {
      event.request = request;
      return event;
    });
    return this.#client.captureException(error, { originalException: error }, scope);
  }

  /** Reports a worker that exited while it should have served (a crash, the OOM killer). */
  captureWorkerExit(exit: ReportedWorkerExit): string {
    const scope = this.#scope();
    scope.setTags({ worker: String(exit.worker), exit_code: String(exit.code), signal: String(exit.signal) });
    if (exit.pid !== undefined) scope.setTag('worker_pid', String(exit.pid));
    const how = exit.signal !== null ? `signal ${exit.signal}` : `code ${exit.code}`;
    return this.#client.captureMessage(`worker ${exit.worker} exited unexpectedly (${how})`, 'error' satisfies SeverityLevel, undefined, scope);
  }

  /** Reports an error outside any request (an uncaught exception, a failing background service). */
  captureError(error: unknown, tags: Readonly<Record<string, string>> = {}): string {
    const scope = this.#scope();
    scope.setTags(tags);
    return this.#client.captureException(error, { originalException: error }, scope);
  }

  /** Reports every `HttpProxy` internal error in this process (its diagnostics channel). Returns the unsubscribe. */
  subscribeProxy(): () => void {
    if (!this.#subscribed) subscribe(PROXY_INTERNAL_ERROR_CHANNEL, this.#onInternalError);
    this.#subscribed = true;
    return () => {
      if (this.#subscribed) unsubscribe(PROXY_INTERNAL_ERROR_CHANNEL, this.#onInternalError);
      this.#subscribed = false;
    };
  }

  /** Waits up to `timeoutMs` for events being sent; false if some were still in flight. */
  async flush(timeoutMs = 2000): Promise<boolean> {
    return this.#client.flush(timeoutMs);
  }

  /** Unsubscribes, flushes (up to `timeoutMs`) and stops the client. */
  async close(timeoutMs = 2000): Promise<boolean> {
    if (this.#subscribed) unsubscribe(PROXY_INTERNAL_ERROR_CHANNEL, this.#onInternalError);
    this.#subscribed = false;
    return this.#client.close(timeoutMs);
  }

  #scope(): Scope {
    const scope = new Scope();
    scope.setClient(this.#client);
    scope.setTags(this.#tags);
    return scope;
  }
}

/** `beforeSend`: drops credentials, cookies, bodies and query strings; an event without a request trace id carries none. */
export function scrubEvent(event: ErrorEvent): ErrorEvent {
  const req = event.request;
  if (req !== undefined) {
    if (req.headers !== undefined) {
      const kept: Record<string, string> = {};
      for (const [name, value] of Object.entries(req.headers)) if (!SCRUBBED_HEADERS.includes(name.toLowerCase())) kept[name] = value;
      req.headers = kept;
    }
    delete req.cookies;
    delete req.data;
    delete req.query_string;
    if (typeof req.url === 'string') req.url = pathOnly(req.url);
  }
  // The client adds a random trace context to every event; only a request's own trace id is meaningful.
  if (event.tags?.trace_id === undefined && event.contexts?.trace !== undefined) delete event.contexts.trace;
  return event;
}

/** The trace and parent span ids of a W3C `traceparent` (`00-<32 hex>-<16 hex>-<2 hex>`), if it is one. */
export function traceIdOf(traceparent: string | readonly string[] | undefined): { traceId: string; spanId: string } | undefined {
  const v = typeof traceparent === 'string' ? traceparent.trim() : undefined;
  if (v === undefined || v.length < 55) return undefined;
  const m = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-[0-9a-f]{2}/.exec(v);
  if (m === null || m[1] === 'ff' || /^0+$/.test(m[2] as string) || /^0+$/.test(m[3] as string)) return undefined;
  return { traceId: m[2] as string, spanId: m[3] as string };
}

function pathOnly(target: string): string {
  const q = target.indexOf('?');
  return q < 0 ? target : target.slice(0, q);
}

/** Request headers as Sentry takes them (one string each), credentials left out here already. */
function requestHeaders(headers: ReportedRequest['headers']): Record<string, string> {
  const out: Record<string, string> = {};
  if (headers === undefined) return out;
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || SCRUBBED_HEADERS.includes(name.toLowerCase())) continue;
    out[name] = typeof value === 'string' ? value : value.join(', ');
  }
  return out;
}

/**
 * `node:http`/`node:https` whose requests give up after `timeoutMs`: Sentry's transport sets
 * only an idle-socket timeout, so an ingest that accepts and never answers would hold its
 * queue slot forever.
 */
function timedHttp(timeoutMs: number): { request(options: RequestOptions, callback?: (res: never) => void): ClientRequest } {
  return {
    request(options, callback) {
      const req = (options.protocol === 'https:' ? httpsRequest : httpRequest)(options, callback as never);
      req.setTimeout(timeoutMs, () => req.destroy(new Error(`no answer from the Sentry ingest within ${timeoutMs} ms`)));
      return req;
    },
  };
}
