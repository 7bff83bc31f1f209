/**
 * The spans of one downstream request (made only when the proxy has a tracer, see
 * `proxyTracing`): a SERVER span from arrival to the end of the response, its parent taken from
 * the client's headers through the registered propagator (W3C `traceparent` / `tracestate`),
 * and a CLIENT span per upstream attempt, its context injected into that attempt's request.
 * Attributes follow the OpenTelemetry HTTP semantic conventions; they are only set on spans that
 * record. A request whose SERVER span the sampler dropped makes no CLIENT span at all: nothing
 * would record it, so its attempts send the SERVER span's context upstream (same trace, not
 * sampled), which keeps an unsampled request down to one span's ids and one header written.
 */
import {
  INVALID_TRACEID,
  propagation,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  type Context,
  type Span,
  type SpanOptions,
  type TextMapGetter,
  type TextMapSetter,
  type Tracer,
} from '@opentelemetry/api';
import type { ProxyError } from '@pingora-ts/core';
import type { DownstreamSession } from '../downstream/downstream-session';
import type { HeaderList } from '../header-list';
import type { HttpPeer } from '../http-peer';
import type { RequestHeader } from '../request-header';
import type { ProxyTracing } from './proxy-tracer';

/** Methods the conventions name; any other is reported as `_OTHER` (bounded span names). */
const KNOWN_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH', 'QUERY']);

/** Span options, made once (the SDK only reads them). */
const SERVER_SPAN: SpanOptions = { kind: SpanKind.SERVER };
const CLIENT_SPAN: SpanOptions = { kind: SpanKind.CLIENT };

/** Reads propagation fields from a request's `[name, value, …]` headers (keys come lower-case). */
const RAW_HEADERS_GETTER: TextMapGetter<readonly string[]> = {
  keys(raw) {
    const out: string[] = [];
    for (let i = 0; i < raw.length; i += 2) out.push((raw[i] as string).toLowerCase());
    return out;
  },
  get(raw, key) {
    let found: string | string[] | undefined;
    for (let i = 0; i < raw.length; i += 2) {
      const n = raw[i] as string;
      if (n.length !== key.length || (n !== key && n.toLowerCase() !== key)) continue;
      const v = raw[i + 1] as string;
      // Repeated fields (two `tracestate` lines) are handed over as a list, as node:http would.
      found = found === undefined ? v : typeof found === 'string' ? [found, v] : (found.push(v), found);
    }
    return found;
  },
};

/** Writes propagation fields into the upstream request (whose fields of those names were removed first). */
const HEADER_LIST_SETTER: TextMapSetter<HeaderList> = {
  set(headers, key, value) {
    headers.append(key, value);
  },
};

export class RequestTrace {
  private readonly server: Span;
  /** The SERVER span records: attempts get CLIENT spans. */
  private readonly recording: boolean;
  /** The extracted parent with the server span in it: the parent of every attempt. */
  /** What the client sent (extracted), and that with the SERVER span in it (made when first needed). */
  private readonly extracted: Context;
  private parentContext: Context | null = null;
  /** The SERVER span has a valid context (a tracer may hand out an invalid one for a request it drops: nothing to send upstream). */
  private readonly propagates: boolean;
  private client: Span | null = null;
  private upstreamStatus = 0;
  private readonly tracer: Tracer;
  /** The propagator's fields, if the client sent any of them (else nothing to extract or replace). */
  private readonly sentFields: readonly string[] | null;

  constructor(
    tracing: ProxyTracing,
    private readonly downstream: DownstreamSession,
  ) {
    this.tracer = tracing.tracer;
    let parent: Context = ROOT_CONTEXT;
    const raw = downstream.rawHeaders;
    this.sentFields = hasAnyField(raw, tracing.fields) ? tracing.fields : null;
    if (this.sentFields !== null) {
      try {
        parent = propagation.extract(ROOT_CONTEXT, raw, RAW_HEADERS_GETTER);
      } catch {
        // A broken propagator or header: the request is traced as a new trace.
      }
    }
    const tracer = this.tracer;
    const method = downstream.method;
    const known = KNOWN_METHODS.has(method);
    const span = tracer.startSpan(known ? method : 'HTTP', SERVER_SPAN, parent);
    this.recording = span.isRecording();
    if (this.recording) serverAttributes(span, downstream, known);
    this.server = span;
    this.extracted = parent;
    this.propagates = span.spanContext().traceId !== INVALID_TRACEID;
  }

  private get parent(): Context {
    return (this.parentContext ??= trace.setSpan(this.extracted, this.server));
  }

  /** The request's SERVER span. */
  get span(): Span {
    return this.server;
  }

  /** A new attempt starts: its CLIENT span, a sibling of earlier attempts; `resendCount` is the retries before it. */
  startAttempt(resendCount: number): void {
    if (this.client !== null) this.endAttempt(null);
    if (!this.recording) return;
    const method = this.downstream.method;
    const known = KNOWN_METHODS.has(method);
    const span = this.tracer.startSpan(known ? method : 'HTTP', CLIENT_SPAN, this.parent);
    if (span.isRecording()) {
      span.setAttribute('http.request.method', known ? method : '_OTHER');
      if (!known) span.setAttribute('http.request.method_original', method);
      if (resendCount > 0) span.setAttribute('http.request.resend_count', resendCount);
    }
    this.client = span;
    this.upstreamStatus = 0;
  }

  /** `upstreamPeer` chose `peer` for this attempt. */
  attemptPeer(peer: HttpPeer): void {
    const span = this.client;
    if (span === null || !span.isRecording()) return;
    span.setAttribute('server.address', peer.host);
    span.setAttribute('server.port', peer.port);
    span.setAttribute('network.protocol.name', 'http');
  }

  /**
   * The attempt's request head is ready (before `upstreamRequestFilter`): the attempt's span
   * context goes into its headers, replacing what the client sent under the propagator's names.
   */
  inject(request: RequestHeader, peer: HttpPeer): void {
    const span = this.client;
    if (span !== null && span.isRecording()) span.setAttribute('url.full', `${peer.tls ? 'https' : 'http'}://${peer.address}${request.path}`);
    const sent = this.sentFields;
    if (sent === null && !this.propagates) return;
    try {
      if (sent !== null) for (let i = 0; i < sent.length; i++) request.headers.remove(sent[i] as string);
      if (!this.propagates) return;
      // The extracted context goes on (baggage, if propagated), with the attempt's span in it.
      propagation.inject(span === null ? this.parent : trace.setSpan(this.parent, span), request.headers, HEADER_LIST_SETTER);
    } catch {
      // A broken propagator: the request goes without trace context rather than not at all.
    }
  }

  /** The upstream answered this attempt with `status`. */
  upstreamResponded(status: number): void {
    this.upstreamStatus = status;
  }

  /** The attempt is over: failed with `err`, or done (null). */
  endAttempt(err: ProxyError | null): void {
    const span = this.client;
    if (span === null) return;
    this.client = null;
    if (span.isRecording()) {
      const status = this.upstreamStatus;
      if (status > 0) span.setAttribute('http.response.status_code', status);
      // Client spans: 4xx and 5xx are errors (the conventions' rule for CLIENT).
      if (err !== null) markError(span, err.kind, err.message);
      else if (status >= 400) markError(span, String(status), undefined);
    }
    span.end();
  }

  /** The request is over (before `logging`): `status` went downstream (0: none), `err` if it failed. */
  end(status: number, err: ProxyError | null): void {
    this.endAttempt(err);
    const span = this.server;
    if (span.isRecording()) {
      if (status > 0) span.setAttribute('http.response.status_code', status);
      // Server spans: only 5xx and failures are errors; a 4xx is the client's.
      if (err !== null) markError(span, err.kind, err.message);
      else if (status >= 500) markError(span, String(status), undefined);
    }
    span.end();
  }
}

/** Whether `raw` (`[name, value, …]`) has a field named in `fields` (lower-case). */
function hasAnyField(raw: readonly string[], fields: readonly string[]): boolean {
  for (let i = 0; i < raw.length; i += 2) {
    const n = raw[i] as string;
    for (let j = 0; j < fields.length; j++) {
      const f = fields[j] as string;
      if (n.length === f.length && n.toLowerCase() === f) return true;
    }
  }
  return false;
}

function markError(span: Span, type: string, message: string | undefined): void {
  span.setAttribute('error.type', type);
  span.setStatus(message === undefined ? { code: SpanStatusCode.ERROR } : { code: SpanStatusCode.ERROR, message });
}

/** The SERVER span's request attributes (only for a span that records). */
function serverAttributes(span: Span, d: DownstreamSession, known: boolean): void {
  const method = d.method;
  span.setAttribute('http.request.method', known ? method : '_OTHER');
  if (!known) span.setAttribute('http.request.method_original', method);
  const target = d.target;
  if (target.charCodeAt(0) === 0x2f /* / */) {
    const q = target.indexOf('?');
    span.setAttribute('url.path', q < 0 ? target : target.slice(0, q));
  }
  span.setAttribute('url.scheme', d.scheme);
  span.setAttribute('network.protocol.name', 'http');
  span.setAttribute('network.protocol.version', d.httpVersion === '2.0' ? '2' : d.httpVersion);
  span.setAttribute('client.address', d.clientIp());
  const raw = d.rawHeaders;
  let host: string | undefined;
  let agent: string | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const n = raw[i] as string;
    if (host === undefined && n.length === 4 && n.toLowerCase() === 'host') host = raw[i + 1];
    else if (agent === undefined && n.length === 10 && n.toLowerCase() === 'user-agent') agent = raw[i + 1];
  }
  if (host !== undefined) setServerAddress(span, host, d.scheme === 'https' ? 443 : 80);
  if (agent !== undefined) span.setAttribute('user_agent.original', agent);
}

/** `server.address` and `server.port` from a `Host` value (`name`, `name:port`, `[v6]:port`). */
function setServerAddress(span: Span, host: string, defaultPort: number): void {
  let name = host;
  let port = defaultPort;
  if (host.charCodeAt(0) === 0x5b /* [ */) {
    const end = host.indexOf(']');
    if (end < 0) return;
    name = host.slice(1, end);
    if (host.charCodeAt(end + 1) === 0x3a /* : */) port = Number(host.slice(end + 2));
  } else {
    const colon = host.indexOf(':');
    if (colon >= 0) {
      name = host.slice(0, colon);
      port = Number(host.slice(colon + 1));
    }
  }
  if (name.length === 0) return;
  span.setAttribute('server.address', name);
  if (Number.isInteger(port) && port > 0 && port <= 65535) span.setAttribute('server.port', port);
}
