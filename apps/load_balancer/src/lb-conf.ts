import { checkListenerConfig, listenerConfigSchema, readCaFile, serverConfSchema } from '@pingora-ts/core';
import { z } from 'zod';
import { HASH_KEY_FORMS, isHashKey } from './hash-key';

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

const healthCheckSchema = z.strictObject({
  type: z.literal('tcp'),
  interval_ms: z.number().int().min(10).default(1000),
  consecutive_success: z.number().int().min(1).default(1),
  consecutive_failure: z.number().int().min(1).default(1),
  timeout_ms: z.number().int().min(1).default(1000),
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

/** Every `upstreams.selection`. */
export const SELECTIONS = ['round_robin', 'random', 'fnv', 'ketama', 'maglev', 'least_conn', 'p2c_ewma'] as const;
/** The selections that hash `upstreams.hash_key`. */
export const HASHING_SELECTIONS: ReadonlySet<string> = new Set(['fnv', 'ketama', 'maglev']);

const upstreamsSchema = z.strictObject({
  backends: z.array(backendSchema).min(1, 'at least one backend is needed'),
  /** How a backend is picked (see the README): `fnv`, `ketama` and `maglev` hash `hash_key`. */
  selection: z.enum(SELECTIONS).default('round_robin'),
  /** What the hashing selections hash (default `uri`); a request without it goes round robin. */
  hash_key: z
    .string()
    .refine(isHashKey, { error: (iss) => `invalid hash_key ${JSON.stringify(iss.input)}: expected ${HASH_KEY_FORMS}` })
    .optional(),
  health_check: healthCheckSchema.optional(),
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
});

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
});

export const lbConfSchema = serverConfSchema.extend({
  /** Access log file; `stdout` (default) or `stderr`, or `false` to turn it off. */
  access_log: z.union([z.string().min(1), z.literal(false)]).default('stdout'),
  services: z.array(serviceSchema).min(1, 'at least one service is needed'),
});

export type LbConf = z.infer<typeof lbConfSchema>;
export type ServiceConf = LbConf['services'][number];
export type UpstreamsConf = ServiceConf['upstreams'];

/**
 * Checks what the schema cannot: TLS files exist, parse, and each key matches its
 * certificate. Run by `-t`, at start and before a SIGHUP reload; throws a one-line ConfError.
 */
export function validateLbConf(conf: LbConf, file: string): void {
  if (conf.ca_file !== undefined) readCaFile(conf.ca_file, { file, path: ['ca_file'] });
  conf.services.forEach((svc, i) => {
    svc.listeners.forEach((listener, j) => checkListenerConfig(listener, { file, path: ['services', i, 'listeners', j] }));
    const caPath = svc.upstreams.tls?.ca_path;
    if (caPath !== undefined) readCaFile(caPath, { file, path: ['services', i, 'upstreams', 'tls', 'ca_path'] });
  });
}

