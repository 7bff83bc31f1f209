import { isIP } from 'node:net';
import { CacheKeyTemplate } from '@pingora-ts/cache';
import { ConfError, checkListenerConfig, listenerConfigSchema, readCaFile, serverConfSchema } from '@pingora-ts/core';
import { FileDiscovery } from '@pingora-ts/load-balancing';
import { LOG_LEVELS } from '@pingora-ts/observability';
import { z } from 'zod';
import { HASH_KEY_FORMS, isHashKey } from './hash-key';
import { tracingSchema } from './tracing/tracing-conf';

/**
 * The load balancer's config: Pingora's server keys plus `services`. Every object is strict,
 * so a misspelt key is an error naming its path (see `@pingora-ts/core`'s `loadConfFile`).
 */

const hostPort = z
  .string()
  .regex(/^(\[[0-9a-fA-F:.]+\]|[^\s:[\]]+):\d{1,5}$/, 'expected "host:port"')
  .refine((s) => Number(s.slice(s.lastIndexOf(':') + 1)) <= 65535, 'port must be 0-65535');

const backendSchema = z.union([
  hostPort,
  z.strictObject({ addr: hostPort, weight: z.number().int().min(1).max(1000).default(1) }),
]);

/** Which health-check keys each `type` takes beside the common ones. */
const HEALTH_CHECK_KEYS = {
  path: ['http'],
  method: ['http'],
  host: ['http'],
  expect_status: ['http'],
  expect_body: ['http'],
  sni: ['tls', 'http', 'grpc'],
  verify: ['tls', 'http', 'grpc'],
  grpc_service: ['grpc'],
} as const;

/** `"200-399"` or `"204"`: statuses within 100-599, low end first. */
const STATUS_RANGE = /^([1-5][0-9]{2})(?:-([1-5][0-9]{2}))?$/;

/**
 * Active health checks. One strict object for every type (so a misspelt key gets a "did you
 * mean"); a key of another type is an error naming the types it belongs to.
 */
const healthCheckSchema = z
  .strictObject({
    /** tcp: connect; tls: connect + handshake; http: a request; grpc: grpc.health.v1.Health/Check. */
    type: z.enum(['tcp', 'tls', 'http', 'grpc']).default('tcp'),
    /** Each backend is checked every interval_ms ± jitter_percent %. */
    interval_ms: z.number().int().min(10).default(1000),
    /** Connect, handshake and answer must fit in it. */
    timeout_ms: z.number().int().min(1).default(1000),
    consecutive_success: z.number().int().min(1).default(1),
    consecutive_failure: z.number().int().min(1).default(1),
    jitter_percent: z.number().min(0).max(100).default(10),
    /** Most probes in flight at once. */
    concurrency: z.number().int().min(1).default(16),
    path: z.string().regex(/^\//, 'expected a path starting with "/"').optional(),
    method: z.string().regex(/^[A-Za-z]+$/, 'expected an HTTP method such as "GET" or "HEAD"').optional(),
    host: z.string().min(1).optional(),
    expect_status: z.union([z.string(), z.array(z.number().int().min(100).max(599)).min(1)]).optional(),
    expect_body: z.string().min(1).optional(),
    sni: z.string().min(1).optional(),
    verify: z.boolean().optional(),
    grpc_service: z.string().optional(),
  })
  .superRefine((hc, ctx) => {
    for (const [key, types] of Object.entries(HEALTH_CHECK_KEYS) as [keyof typeof HEALTH_CHECK_KEYS, readonly string[]][]) {
      if (hc[key] !== undefined && !types.includes(hc.type)) {
        const list = types.map((t) => `"${t}"`).join(', ');
        ctx.addIssue({ code: 'custom', path: [key], message: `only for type ${list}, not "${hc.type}"` });
      }
    }
    const status = hc.expect_status;
    if (typeof status === 'string') {
      const m = STATUS_RANGE.exec(status);
      if (m === null || Number(m[1]) > Number(m[2] ?? m[1])) {
        ctx.addIssue({ code: 'custom', path: ['expect_status'], message: `expected a range like "200-399" (100-599, low end first) or a list of statuses, got ${JSON.stringify(status)}` });
      }
    }
  });

/** Passive health (outlier ejection from live traffic, after Envoy's outlier detection). */
const passiveHealthSchema = z
  .strictObject({
    /** 5xx answers in a row that eject a backend; 0: off. */
    consecutive_5xx: z.number().int().min(0).default(5),
    /** Connect errors, timeouts and resets in a row that eject a backend; 0: off. */
    consecutive_connect_errors: z.number().int().min(0).default(5),
    /** The n-th ejection lasts n × base_ejection_ms, at most max_ejection_ms. */
    base_ejection_ms: z.number().int().min(1).default(30000),
    max_ejection_ms: z.number().int().min(1).default(300000),
    /** Most backends ejected at once, in % of the service's backends. */
    max_ejection_percent: z.number().min(0).max(100).default(50),
  })
  .superRefine((p, ctx) => {
    if (p.max_ejection_ms < p.base_ejection_ms) {
      ctx.addIssue({ code: 'custom', path: ['max_ejection_ms'], message: `expected at least base_ejection_ms (${p.base_ejection_ms}), got ${p.max_ejection_ms}` });
    }
  });

/** Backends spoken to over TLS (HTTPS). */
const upstreamTlsSchema = z.strictObject({
  /** Server name sent (SNI) and checked in the certificate; default: the backend's host when it is a name. */
  sni: z.string().default(''),
  /** Reject certificates that do not chain to a trusted CA (Node's defaults, plus `ca_file` and `ca_path`). */
  verify_cert: z.boolean().default(true),
  /** Reject certificates whose names do not match the SNI. */
  verify_hostname: z.boolean().default(true),
  /** PEM file of extra CA certificates to trust (an internal CA). */
  ca_path: z.string().min(1).optional(),
});

/**
 * Where the backends come from: `static` (the `backends` list), `file` (a YAML or JSON list,
 * watched) or `dns` (A/AAAA of `name` on `port`, or SRV with `srv: true`, refreshed by TTL).
 * One object, not a union, so a bad `type` lists the valid ones and a misspelt key gets a
 * "did you mean"; which keys go with which type is checked by `checkDiscovery`.
 */
const discoverySchema = z.strictObject({
  type: z.enum(['static', 'file', 'dns']),
  /** A backend that joins the list takes traffic before its first health check (true, default) or after it passed. */
  new_backends_healthy: z.boolean().optional(),
  /** file: the backends file; a relative path is from the working directory. */
  path: z.string().min(1).optional(),
  /** file: how often the file is also polled, besides fs.watch (default 1000). */
  interval_ms: z.number().int().min(10).optional(),
  /** dns: a host name (A/AAAA), or `_service._proto.name` with `srv: true`. */
  name: z.string().min(1).optional(),
  /** dns: the backends' port for A/AAAA; SRV records carry their own. */
  port: z.number().int().min(1).max(65535).optional(),
  /** dns: look up SRV records instead of A/AAAA (default false). */
  srv: z.boolean().optional(),
  /** dns: floor and ceiling of the TTL-driven refresh (default 1000 and 300000). */
  refresh_min_ms: z.number().int().min(10).optional(),
  refresh_max_ms: z.number().int().min(10).optional(),
  /** dns: DNS servers (`ip` or `ip:port`); default the system's. */
  servers: z.array(z.string().min(1)).min(1).optional(),
});

/** The keys each discovery type takes (besides `type`). */
const DISCOVERY_KEYS: Record<DiscoveryConf['type'], readonly string[]> = {
  static: ['new_backends_healthy'],
  file: ['new_backends_healthy', 'path', 'interval_ms'],
  dns: ['new_backends_healthy', 'name', 'port', 'srv', 'refresh_min_ms', 'refresh_max_ms', 'servers'],
};

/** Every `upstreams.selection`. */
export const SELECTIONS = ['round_robin', 'random', 'fnv', 'ketama', 'maglev', 'least_conn', 'p2c_ewma'] as const;
/** The selections that hash `upstreams.hash_key`. */
export const HASHING_SELECTIONS: ReadonlySet<string> = new Set(['fnv', 'ketama', 'maglev']);

const upstreamsSchema = z.strictObject({
  /** The backends of `discovery: static` (the default). */
  backends: z.array(backendSchema).min(1, 'at least one backend is needed').optional(),
  discovery: discoverySchema.optional(),
  /** How a backend is picked (see the README): `fnv`, `ketama` and `maglev` hash `hash_key`. */
  selection: z.enum(SELECTIONS).default('round_robin'),
  /** What the hashing selections hash (default `uri`); a request without it goes round robin. */
  hash_key: z
    .string()
    .refine(isHashKey, { error: (iss) => `invalid hash_key ${JSON.stringify(iss.input)}: expected ${HASH_KEY_FORMS}` })
    .optional(),
  health_check: healthCheckSchema.optional(),
  passive_health: passiveHealthSchema.optional(),
  /** TCP connect timeout to a backend. */
  connection_timeout_ms: z.number().int().min(1).default(5000),
  /** Time to the response headers, and between two body chunks, before a 504. */
  read_timeout_ms: z.number().int().min(1).default(60000),
  /** Idle upstream keep-alive connections close after this long. */
  idle_timeout_ms: z.number().int().min(1).default(60000),
  /**
   * Most connections to each backend (idle + in use + connecting); a request over it waits up
   * to `connection_timeout_ms` for one to come free, then gets a 503. Default: no limit.
   */
  max_connections: z.number().int().min(1).optional(),
  /** Connect to the backends with TLS. */
  tls: upstreamTlsSchema.optional(),
  /**
   * The protocol spoken to the backends: `h1` (HTTP/1.1), `h2` (HTTP/2: ALPN `h2` with `tls`,
   * else h2c with prior knowledge) or `h2h1` (with `tls`: ALPN offers both, h2 preferred; else h1).
   */
  alpn: z.enum(['h1', 'h2', 'h2h1']).default('h1'),
}).superRefine(checkDiscovery).superRefine(checkSelection);

/** Keys that only mean something with others. */
function checkSelection(
  up: { selection: string; hash_key?: string | undefined; health_check?: unknown; discovery?: DiscoveryConf | undefined },
  ctx: z.RefinementCtx,
): void {
  if (up.hash_key !== undefined && !HASHING_SELECTIONS.has(up.selection)) {
    ctx.addIssue({ code: 'custom', path: ['hash_key'], message: `only used by selection fnv, ketama or maglev, not ${up.selection}` });
  }
  if (up.discovery?.new_backends_healthy === false && up.health_check === undefined) {
    ctx.addIssue({
      code: 'custom',
      path: ['discovery', 'new_backends_healthy'],
      message: 'false needs upstreams.health_check (without one, no backend would ever become healthy)',
    });
  }
}

/** What the discovery schema cannot say alone: which keys go with which type. */
function checkDiscovery(up: { backends?: unknown; discovery?: DiscoveryConf | undefined }, ctx: z.RefinementCtx): void {
  const d = up.discovery;
  const type = d?.type ?? 'static';
  const issue = (path: string[], message: string): void => ctx.addIssue({ code: 'custom', path, message });
  if (type === 'static' && up.backends === undefined) {
    issue(['backends'], 'missing required key (the backends of static discovery; or set discovery: { type: file | dns })');
  }
  if (type !== 'static' && up.backends !== undefined) {
    issue(['backends'], `not used with discovery type ${type} (the ${type === 'file' ? 'file' : 'DNS answer'} lists the backends)`);
  }
  if (d === undefined) return;
  const allowed = DISCOVERY_KEYS[type];
  for (const [key, value] of Object.entries(d)) {
    if (key !== 'type' && value !== undefined && !allowed.includes(key)) {
      issue(['discovery', key], `not used with type ${type} (valid keys: type, ${allowed.join(', ')})`);
    }
  }
  if (type === 'file' && d.path === undefined) issue(['discovery', 'path'], 'missing required key (the backends file, for type file)');
  if (type !== 'dns') return;
  if (d.name === undefined) issue(['discovery', 'name'], 'missing required key (the name to look up, for type dns)');
  if (!d.srv && d.port === undefined) issue(['discovery', 'port'], "missing required key (the backends' port, 1-65535; or srv: true)");
  if (d.srv && d.port !== undefined) issue(['discovery', 'port'], 'not used with srv: true (SRV records carry the ports)');
  if ((d.refresh_max_ms ?? 300000) < (d.refresh_min_ms ?? 1000)) {
    issue(['discovery', 'refresh_max_ms'], `must be at least refresh_min_ms (${d.refresh_min_ms ?? 1000})`);
  }
}

/** Downstream HTTP/2 settings and abuse limits (HttpProxy's `http2` option); each defaults to the proxy's. */
const http2Schema = z.strictObject({
  /** SETTINGS_MAX_CONCURRENT_STREAMS (default 128). */
  max_concurrent_streams: z.number().int().min(1).max(2 ** 31 - 1).optional(),
  /** SETTINGS_INITIAL_WINDOW_SIZE in bytes (default 65535). */
  initial_window_size: z.number().int().min(1).max(2 ** 31 - 1).optional(),
  /** SETTINGS_MAX_HEADER_LIST_SIZE in decoded bytes (default 65536). */
  max_header_list_size: z.number().int().min(1).max(2 ** 31 - 1).optional(),
  /** A response stalled this long on a window the client never opens is reset (default 60000). */
  stall_timeout_ms: z.number().int().min(1).optional(),
  /** Client stream resets per second before GOAWAY(ENHANCE_YOUR_CALM) (default 200). */
  max_resets_per_second: z.number().int().min(1).optional(),
  /** PING + SETTINGS frames per second before GOAWAY(ENHANCE_YOUR_CALM) (default 100). */
  max_control_frames_per_second: z.number().int().min(1).optional(),
});

/**
 * The service's HTTP cache (HttpProxy's `cache` option; see the README's "HTTP cache"):
 * `cache: { enabled: true }` alone is a correct RFC 9111 shared cache in memory.
 */
const cacheSchema = z.strictObject({
  enabled: z.boolean(),
  /** Bytes kept in memory, bodies and heads (default 64 MiB). */
  max_size_bytes: z.number().int().min(1).default(64 * 1024 * 1024),
  /** Largest body stored; larger ones pass through uncached (default 8 MiB, or max_size_bytes when smaller). */
  max_object_bytes: z.number().int().min(1).optional(),
  /** Freshness for a heuristically cacheable response without Last-Modified (0, the default: none, revalidated on each use). */
  default_ttl_seconds: z.number().int().min(0).default(0),
  /** The primary key template: $scheme, $host, $uri, $args, $request_uri, $http_<name> (default $scheme://$host$request_uri). */
  key: z.string().min(1).refine(isKeyTemplate, { error: (iss) => keyTemplateError(iss.input) }).default('$scheme://$host$request_uri'),
  /** How long concurrent misses for one key wait for the one fetching it (default 5000). */
  lock_timeout_ms: z.number().int().min(1).default(5000),
  /** The response header with HIT, MISS, EXPIRED, STALE, REVALIDATED or BYPASS; false: none (default X-Cache-Status). */
  status_header: z.union([z.string().regex(/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/, 'must be a header name'), z.literal(false)]).default('X-Cache-Status'),
  /** Client addresses or CIDR ranges allowed to PURGE (default none: PURGE is answered 405). */
  purge_allow: z.array(z.string().refine(isAddressOrCidr, { error: (iss) => `${JSON.stringify(iss.input)} is not an IP address or CIDR range` })).default([]),
}).refine((c) => c.max_object_bytes === undefined || c.max_object_bytes <= c.max_size_bytes, { path: ['max_object_bytes'], message: 'must not exceed max_size_bytes' });

function isKeyTemplate(s: string): boolean {
  return keyTemplateError(s) === '';
}

/** Why `s` is not a key template ('' when it is), in the words of `CacheKeyTemplate`. */
function keyTemplateError(s: unknown): string {
  try {
    new CacheKeyTemplate(s as string);
    return '';
  } catch (err) {
    return (err as Error).message.replace(/^cache option "key": /, '');
  }
}

function isAddressOrCidr(s: string): boolean {
  const slash = s.indexOf('/');
  const family = isIP(slash < 0 ? s : s.slice(0, slash));
  if (family === 0) return false;
  if (slash < 0) return true;
  const bits = s.slice(slash + 1);
  return /^\d{1,3}$/.test(bits) && Number(bits) <= (family === 4 ? 32 : 128);
}

const serviceSchema = z.strictObject({
  name: z.string().min(1),
  /** Core's listener config: `host:port` or `unix:/path`, optional `tls` (SNI certs, ALPN), `unix_mode`. */
  listeners: z.array(listenerConfigSchema).min(1, 'at least one listener is needed'),
  upstreams: upstreamsSchema,
  /**
   * A WebSocket (or other HTTP/1.1 Upgrade) tunnel through which no byte moved either way for
   * this long is closed. 0: never. Default 300000 (5 minutes).
   */
  tunnel_idle_timeout_ms: z.number().int().min(0).default(300000),
  /** Downstream HTTP/2 (TLS ALPN h2, h2c on cleartext listeners unless `h2c: false`). */
  http2: http2Schema.optional(),
  cache: cacheSchema.optional(),
});

/** `https://<public key>@<host>/<project id>`, the DSN shape Sentry's SDK accepts. */
function isSentryDsn(s: string): boolean {
  try {
    const u = new URL(s);
    return (u.protocol === 'https:' || u.protocol === 'http:') && u.username !== '' && /\/[^/]+$/.test(u.pathname);
  } catch {
    return false;
  }
}

const sentrySchema = z.strictObject({
  dsn: z.string().refine(isSentryDsn, 'expected a Sentry DSN: https://<public key>@<host>/<project id>'),
  environment: z.string().min(1).optional(),
  /** Share of error events sent, 0..1 (default 1). */
  sample_rate: z.number().min(0).max(1).default(1),
});

/** `127.0.0.0/8`, `[::1]` or `localhost`: only this machine reaches it. */
export function isLoopback(addr: string): boolean {
  const host = addr.slice(0, addr.lastIndexOf(':'));
  return host === 'localhost' || host === '[::1]' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

/** The admin endpoint (metrics, health, readiness), served by the primary; off when absent. */
const adminSchema = z
  .strictObject({
    /** Where it listens; loopback unless a token guards it. */
    addr: hostPort.default('127.0.0.1:6190'),
    /** Every admin request must carry `Authorization: Bearer <token>`. */
    token: z.string().min(16, 'expected at least 16 characters').optional(),
  })
  .superRefine((a, ctx) => {
    // A malformed addr has its own issue already.
    if (a.token === undefined && hostPort.safeParse(a.addr).success && !isLoopback(a.addr)) {
      ctx.addIssue({ code: 'custom', path: ['token'], message: `missing required key: admin.addr ${a.addr} is not a loopback address, so a token is needed` });
    }
  });

export const lbConfSchema = serverConfSchema.extend({
  /** Access log file; `stdout` (default) or `stderr`, or `false` to turn it off. */
  access_log: z.union([z.string().min(1), z.literal(false)]).default('stdout'),
  /** `json` (default) or `combined` (Apache / nginx combined log format). */
  access_log_format: z.enum(['json', 'combined']).default('json'),
  /** The error log's lowest level (default info); the LOG_LEVEL environment variable wins over it. */
  log_level: z.enum(LOG_LEVELS).optional(),
  /** Errors to Sentry: a throwing hook, an internal error, a crashed worker. Off when absent. */
  sentry: sentrySchema.optional(),
  admin: adminSchema.optional(),
  services: z.array(serviceSchema).min(1, 'at least one service is needed'),
  /** OpenTelemetry spans exported over OTLP/HTTP (see docs/tracing.md); absent: none. */
  tracing: tracingSchema.optional(),
});

export type LbConf = z.infer<typeof lbConfSchema>;
export type ServiceConf = LbConf['services'][number];
export type UpstreamsConf = ServiceConf['upstreams'];
export type DiscoveryConf = z.infer<typeof discoverySchema>;
export type HealthCheckConf = NonNullable<UpstreamsConf['health_check']>;
export type PassiveHealthConf = NonNullable<UpstreamsConf['passive_health']>;
export type AdminConf = NonNullable<LbConf['admin']>;

/**
 * Checks what the schema cannot: TLS files exist, parse, and each key matches its
 * certificate. Run by `-t`, at start and before a SIGHUP reload; throws a one-line ConfError.
 */
export function validateLbConf(conf: LbConf, file: string): void {
  if (conf.ca_file !== undefined) readCaFile(conf.ca_file, { file, path: ['ca_file'] });
  conf.services.forEach((svc, i) => {
    svc.listeners.forEach((listener, j) => checkListenerConfig(listener, { file, path: ['services', i, 'listeners', j] }));
    const d = svc.upstreams.discovery;
    // The file must be good at start (and before a reload); later a broken one keeps the last good list.
    if (d?.type === 'file' && d.path !== undefined) {
      try {
        FileDiscovery.readSync(d.path);
      } catch (err) {
        throw ConfError.single(file, ['services', i, 'upstreams', 'discovery', 'path'], (err as Error).message, undefined, err);
      }
    }
    const caPath = svc.upstreams.tls?.ca_path;
    if (caPath !== undefined) readCaFile(caPath, { file, path: ['services', i, 'upstreams', 'tls', 'ca_path'] });
  });
}

