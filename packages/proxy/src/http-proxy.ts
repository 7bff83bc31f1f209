/**
 * `HttpProxy`: a listening service that proxies HTTP/1.1 requests as a user `ProxyHttp`
 * object decides (Pingora's `HttpProxy` service). Implements core's `ListeningService`, so a
 * `Server` can run it, or call `listen()` / `shutdown()` yourself.
 */
import {
  listenerConfigSchema,
  openListener,
  silentLogger,
  type BoundAddress,
  type ListenContext,
  type ListenerConfigInput,
  type ListeningService,
  type Logger,
  type ShutdownOptions,
} from '@pingora-ts/core';
import { ConnectionPool, type ConnectionPoolOptions, type H2PoolStats } from '@pingora-ts/pool';
import { chooseDownstream, type DownstreamChoice, type DownstreamKind } from './downstream/choose-downstream';
import type { DownstreamSession, DownstreamLimits, DownstreamListener } from './downstream/downstream-session';
import { Http2Front, HTTP2_DEFAULTS, type Http2Options } from './downstream/http2-front';
import { LlhttpListener } from './downstream/llhttp-listener';
import { NodeHttpListener } from './downstream/node-http-listener';
import { llhttp, llhttpUnavailable } from '@pingora-ts/core/internal';
import { DEFAULT_TUNNEL_IDLE_TIMEOUT_MS } from './flow/tunnel';
import { HttpCache, type HttpCacheOptions, type HttpCacheStats } from './cache/http-cache';
import { resolveHooks } from './hooks';
import type { ProxyHttp } from './proxy-http';
import { ProxyTask, type ProxyRuntime } from './proxy-task';
import { ProtocolConnector } from './upstream/protocol-connector';
import { isTracingOption, proxyTracing, type TracingOption } from './tracing/proxy-tracer';

/**
 * One address to accept connections on: core's listener config. `addr` is `"host:port"`
 * (`"127.0.0.1:0"` picks a free port), `"[::1]:8080"` or `"unix:/path"`; `tls` adds TLS with
 * SNI certificates (ALPN `[h2, http/1.1]` unless `tls.alpn` narrows it); `h2c: false` turns off
 * cleartext HTTP/2 by prior knowledge on the port; `unix_mode` sets a Unix socket's file mode.
 */
export type ListenerConfig = ListenerConfigInput;

/** The ALPN protocols this proxy serves on TLS listeners. */
const ALPN_SERVED = ['h2', 'http/1.1'] as const;

export interface HttpProxyOptions {
  /** Where to listen; at least one. */
  listeners: ListenerConfig[];
  /**
   * The upstream connection pool, or options for one the proxy makes (and closes on shutdown).
   * A pool passed in is shared and left open. Default: `new ConnectionPool()`.
   */
  pool?: ConnectionPool | ConnectionPoolOptions;
  /** Retries after the first attempt (each calls `upstreamPeer` again). Default 16. */
  maxRetries?: number;
  /** Where errors, bad requests and retries are logged. Default: nothing is logged. */
  logger?: Logger;
  /** How long an idle downstream keep-alive connection stays open. Default 60000. */
  keepAliveTimeoutMs?: number;
  /** Longest time to receive a request head. Default 60000. */
  headersTimeoutMs?: number;
  /** Longest time to receive a whole request (head and body); 0: none. Default 300000. */
  requestTimeoutMs?: number;
  /** Largest request head in bytes (larger: 431; 414 when the request line alone is larger). Default 16384. */
  maxHeaderSize?: number;
  /**
   * The downstream HTTP/1.1 implementation. `'llhttp'` (default): `net` sockets parsed by
   * node's own llhttp, responses written directly; falls back to `'node:http'` (logged as a
   * warning) when that internal parser is unavailable. `'node:http'`: node:http, the only one where
   * `session.downstream` (node:http's request and response) exists.
   */
  downstream?: DownstreamKind;
  /**
   * A tunnel (a WebSocket or other `Upgrade` answered `101`, or an allowed `CONNECT`) through
   * which no byte moved either way for this long is closed (both sockets destroyed; it closes
   * between 1 and 1.25 times this after the last byte). 0: never. Default 300000 (5 minutes).
   */
  tunnelIdleTimeoutMs?: number;
  /**
   * HTTP/2 downstream settings and abuse limits (see `Http2Options` and docs/http2.md). HTTP/2
   * is served on TLS listeners by ALPN and, unless a listener says `h2c: false`, as h2c on
   * cleartext ones beside HTTP/1.1.
   */
  http2?: Http2Options;
  /**
   * An RFC 9111 shared HTTP cache in front of the upstreams (see `docs/cache.md`): an `HttpCache`
   * (to share one between proxies) or its options; `{}` gives a correct cache in memory.
   * Default: none.
   */
  cache?: HttpCache | HttpCacheOptions;
  /**
   * OpenTelemetry spans (see docs/tracing.md): a SERVER span per request, a CLIENT span per
   * upstream attempt, W3C trace context read from the client and sent upstream. A
   * `TracerProvider` to use; `true`: the global one; `false`: none. Default: the global one if an
   * SDK registered a provider by the time `listen()` runs, else none (and no cost).
   */
  tracing?: TracingOption;
}

/** Counters of a running proxy. */
export interface HttpProxyStats {
  /** Requests received since start. */
  requests: number;
  /** Requests being handled now. */
  activeRequests: number;
  /** Open downstream connections. */
  activeConnections: number;
  /** The upstream pool's counters (`h2`: HTTP/2 sessions and streams). */
  pool: { newConnections: number; reusedConnections: number; idleConnections: number; activeConnections: number; h2: H2PoolStats };
  /** The HTTP cache's counters and what its store holds; null without a cache. */
  cache: HttpCacheStats | null;
}

const OPTION_KEYS = new Set([
  'listeners',
  'pool',
  'maxRetries',
  'logger',
  'keepAliveTimeoutMs',
  'headersTimeoutMs',
  'requestTimeoutMs',
  'maxHeaderSize',
  'downstream',
  'tunnelIdleTimeoutMs',
  'http2',
  'cache',
  'tracing',
]);

export class HttpProxy<Ctx> implements ListeningService {
  readonly kind = 'listening' as const;
  readonly name: string;
  /** The upstream connection pool. */
  readonly pool: ConnectionPool;
  /** The downstream path in use (see `HttpProxyOptions.downstream`). */
  readonly downstream: DownstreamKind;
  private readonly ownsPool: boolean;
  private readonly choice: DownstreamChoice;
  private readonly logger: Logger;
  private readonly listeners: DownstreamListener[];
  /** The listeners as configured: core opens them (and hands them over in workers and upgrades). */
  readonly listenerConfigs: readonly ListenerConfigInput[];
  private readonly runtime: ProxyRuntime<Ctx>;
  private requests = 0;
  private activeRequests = 0;
  private stopping: Promise<void> | null = null;
  private readonly tracing: TracingOption;

  /**
   * Checks `app` (required hooks present, no misspelt hook) and the options (unknown keys
   * throw, with their path). Nothing listens until `listen()`.
   */
  constructor(name: string, app: ProxyHttp<Ctx>, options: HttpProxyOptions) {
    validateOptions(options);
    const resolved = resolveHooks(app);
    this.name = name;
    if (options.pool instanceof ConnectionPool) {
      this.pool = options.pool;
      this.ownsPool = false;
    } else {
      this.pool = new ConnectionPool(options.pool ?? {});
      this.ownsPool = true;
    }
    const logger = options.logger ?? silentLogger;
    const maxRetries = options.maxRetries ?? 16;
    const limits: DownstreamLimits = {
      keepAliveTimeoutMs: options.keepAliveTimeoutMs ?? 60_000,
      headersTimeoutMs: options.headersTimeoutMs ?? 60_000,
      requestTimeoutMs: options.requestTimeoutMs ?? 300_000,
      maxHeaderSize: options.maxHeaderSize ?? 16_384,
    };
    if (limits.requestTimeoutMs > 0 && limits.headersTimeoutMs > limits.requestTimeoutMs) {
      throw new TypeError('HttpProxy option "headersTimeoutMs" must not exceed "requestTimeoutMs"');
    }
    this.logger = logger;
    this.tracing = options.tracing;
    this.choice = chooseDownstream(options.downstream ?? 'llhttp', llhttp, llhttpUnavailable);
    this.downstream = this.choice.kind;
    const parser = this.choice.parser;
    this.listenerConfigs = options.listeners;
    this.listeners = options.listeners.map((l) => {
      const listener =
        parser !== null
          ? new LlhttpListener(l.addr, limits, parser, this.onRequest, logger, name)
          : new NodeHttpListener(l.addr, limits, this.onRequest, logger, name);
      listener.serveHttp2(new Http2Front(options.http2 ?? {}, limits.keepAliveTimeoutMs, limits.requestTimeoutMs, this.onRequest, logger, name), l.h2c ?? true);
      return listener;
    });
    this.runtime = {
      name,
      hooks: resolved.hooks,
      requestBodyFilter: resolved.requestBodyFilter,
      responseBodyFilter: resolved.responseBodyFilter,
      requestTrailerFilter: resolved.requestTrailerFilter,
      upstreamResponseTrailerFilter: resolved.upstreamResponseTrailerFilter,
      upstreams: new ProtocolConnector(this.pool),
      maxRetries,
      tunnelIdleTimeoutMs: options.tunnelIdleTimeoutMs ?? DEFAULT_TUNNEL_IDLE_TIMEOUT_MS,
      logger,
      cache: options.cache === undefined ? null : options.cache instanceof HttpCache ? options.cache : new HttpCache(options.cache),
      // Decided in listen(), once: an SDK set up after the proxy was made is still found.
      tracing: null,
      startBackground: (downstream, refresh) => {
        // Counted as a request in flight (`stats().activeRequests`) like any other.
        this.activeRequests++;
        new ProxyTask(this.runtime, downstream, refresh).run();
      },
      taskDone: () => {
        this.activeRequests--;
      },
    };
  }

  /**
   * Opens every listener through core (and logs which downstream path runs): through the
   * server's `ctx` when a `Server` runs the proxy (so workers and upgrades share the sockets),
   * else bound directly. Rejects (and closes what was opened) when one fails.
   */
  async listen(ctx?: ListenContext): Promise<void> {
    this.choice.log(this.logger, this.name);
    this.runtime.tracing = proxyTracing(this.tracing);
    const open = ctx?.openListener ?? openListener;
    const options = { logger: this.logger, alpnServed: ALPN_SERVED };
    const results = await Promise.allSettled(
      this.listeners.map((l, i) => l.listen((onConnection) => open(this.listenerConfigs[i] as ListenerConfigInput, onConnection, options))),
    );
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed !== undefined) {
      await Promise.all(this.listeners.map((l) => l.shutdown(false, 0)));
      throw failed.reason;
    }
  }

  /** Bound addresses (ports resolved); empty before `listen()`. */
  addresses(): BoundAddress[] {
    const out: BoundAddress[] = [];
    for (const l of this.listeners) {
      const a = l.address();
      if (a !== null) out.push(a);
    }
    return out;
  }

  /**
   * Graceful: stop accepting, let requests in flight finish (their connections get
   * `Connection: close`), close idle keep-alive connections, force-close after `timeoutMs`;
   * then close the pool if the proxy made it. Not graceful: destroy everything now. Idempotent.
   */
  shutdown(opts: ShutdownOptions): Promise<void> {
    if (this.stopping === null) {
      this.stopping = (async () => {
        await Promise.all(this.listeners.map((l) => l.shutdown(opts.graceful, opts.timeoutMs)));
        if (this.ownsPool) await (opts.graceful ? this.pool.close() : this.pool.destroy());
      })();
    } else if (!opts.graceful) {
      for (const l of this.listeners) void l.shutdown(false, 0);
      if (this.ownsPool) void this.pool.destroy();
    }
    return this.stopping;
  }

  stats(): HttpProxyStats {
    let connections = 0;
    for (const l of this.listeners) connections += l.connections;
    const p = this.pool.stats();
    return {
      requests: this.requests,
      activeRequests: this.activeRequests,
      activeConnections: connections,
      pool: {
        newConnections: p.newConnections,
        reusedConnections: p.reusedConnections,
        idleConnections: p.idleConnections,
        activeConnections: p.activeConnections,
        h2: p.h2,
      },
      cache: this.runtime.cache === null ? null : this.runtime.cache.stats(),
    };
  }

  private readonly onRequest = (downstream: DownstreamSession): void => {
    this.requests++;
    this.activeRequests++;
    new ProxyTask(this.runtime, downstream).run();
  };
}

function validateOptions(options: HttpProxyOptions): void {
  if (typeof options !== 'object' || options === null) throw new TypeError('HttpProxy options must be an object');
  for (const k of Object.keys(options)) {
    if (!OPTION_KEYS.has(k)) throw new TypeError(`unknown HttpProxy option "${k}" (known: ${[...OPTION_KEYS].join(', ')})`);
  }
  if (!Array.isArray(options.listeners) || options.listeners.length === 0) {
    throw new TypeError('HttpProxy option "listeners" must list at least one { addr }');
  }
  options.listeners.forEach((l, i) => {
    const parsed = listenerConfigSchema.safeParse(l);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const key = issue?.code === 'unrecognized_keys' ? `.${issue.keys.join(', .')}` : (issue?.path ?? []).map((p) => `.${String(p)}`).join('');
      throw new TypeError(`HttpProxy option "listeners[${i}]${key}": ${issue?.message ?? 'invalid'}`);
    }
  });
  if (!isTracingOption(options.tracing)) throw new TypeError('HttpProxy option "tracing" must be a boolean or an OpenTelemetry TracerProvider');
  if (options.downstream !== undefined && options.downstream !== 'llhttp' && options.downstream !== 'node:http') {
    throw new TypeError(`HttpProxy option "downstream" must be "llhttp" or "node:http", got ${String(options.downstream)}`);
  }
  if (options.http2 !== undefined) {
    if (typeof options.http2 !== 'object' || options.http2 === null) throw new TypeError('HttpProxy option "http2" must be an object');
    for (const [k, v] of Object.entries(options.http2)) {
      if (!(k in HTTP2_DEFAULTS)) throw new TypeError(`unknown HttpProxy option "http2.${k}" (known: ${Object.keys(HTTP2_DEFAULTS).join(', ')})`);
      if (v !== undefined && (!Number.isInteger(v) || (v as number) < 1)) throw new TypeError(`HttpProxy option "http2.${k}" must be an integer >= 1, got ${String(v)}`);
    }
  }
  for (const k of ['maxRetries', 'keepAliveTimeoutMs', 'headersTimeoutMs', 'requestTimeoutMs', 'maxHeaderSize', 'tunnelIdleTimeoutMs'] as const) {
    const v = options[k];
    if (v !== undefined && (!Number.isInteger(v) || v < 0)) throw new TypeError(`HttpProxy option "${k}" must be an integer >= 0, got ${String(v)}`);
  }
}
