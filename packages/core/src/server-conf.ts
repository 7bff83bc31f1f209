/**
 * The server section of a pingora-ts `conf.yaml`, after Pingora's `ServerConf`.
 *
 * One zod schema is the single source of truth: the TypeScript type is inferred from it,
 * defaults live in it, and because the object is strict every unknown key is an error
 * with its path. Apps add their own sections with `serverConfSchema.extend({ ... })`,
 * which keeps the strictness.
 */
import { z } from 'zod';

/** Used when `graceful_shutdown_timeout_seconds` is not set, as in Pingora. */
export const DEFAULT_GRACEFUL_SHUTDOWN_TIMEOUT_SECONDS = 5;

const count = () => z.number().int().min(0);

export const serverConfSchema = z.strictObject({
  /** Version of the conf format. */
  version: z.number().int().default(1),
  /** Worker processes that all accept on the listeners; 1 serves in the one process, with no primary. */
  threads: z.number().int().min(1).default(1),
  /** Where the server writes its pid once it listens; removed on exit. */
  pid_file: z.string().min(1).default('/tmp/pingora-ts.pid'),
  /** A daemon's stderr goes here once it has started (else it is dropped). */
  error_log: z.string().min(1).optional(),
  /** Where a process started with `-u` waits for the old one to hand its listening sockets over (SIGQUIT). */
  upgrade_sock: z.string().min(1).default('/tmp/pingora-ts_upgrade.sock'),
  /** Run in the background, as with `-d`. */
  daemon: z.boolean().default(false),
  /** After an upgrade, how long the old process lets requests in flight and keep-alive connections finish. Unset: the graceful shutdown timeout. */
  grace_period_seconds: count().optional(),
  /** How long a graceful shutdown (SIGTERM) lets requests in flight finish. Unset: 5 s. */
  graceful_shutdown_timeout_seconds: count().optional(),
  /** Idle upstream connections kept per process (read by `@pingora-ts/pool`). */
  upstream_keepalive_pool_size: count().default(128),
  /** How many times a request may be retried on another attempt (read by `@pingora-ts/proxy`). */
  max_retries: count().default(16),
  /** User to switch to once every listener is bound (the server must start as root). */
  user: z.string().min(1).optional(),
  /** Group to switch to once every listener is bound; default: the user's primary group. */
  group: z.string().min(1).optional(),
  /** Tokio work stealing in Pingora. Accepted for compatibility; no effect in Node (the server says so at startup when it is set). */
  work_stealing: z.boolean().default(true),
  /** CA bundle (PEM) trusted for upstream TLS, beside Node's default CAs; read by the app that connects upstream (the load balancer). */
  ca_file: z.string().min(1).optional(),
});

/** The parsed server conf: every defaulted key is present. */
export type ServerConf = z.infer<typeof serverConfSchema>;

/** The conf as written in YAML or passed to `new Server`: defaulted keys may be left out. */
export type ServerConfInput = z.input<typeof serverConfSchema>;

/** `graceful_shutdown_timeout_seconds` in milliseconds, with the default applied. */
export function gracefulShutdownTimeoutMs(conf: Pick<ServerConf, 'graceful_shutdown_timeout_seconds'>): number {
  return (conf.graceful_shutdown_timeout_seconds ?? DEFAULT_GRACEFUL_SHUTDOWN_TIMEOUT_SECONDS) * 1000;
}
