/**
 * What a listener is, as written in a conf file (snake_case, like Pingora's), with the zod
 * schemas apps embed in their own conf schemas so that `-t` and the loader check it:
 *
 * ```yaml
 * listeners:
 *   - addr: 0.0.0.0:443
 *     tls:
 *       cert_path: /etc/ssl/default.pem
 *       key_path: /etc/ssl/default.key
 *       certs:
 *         - server_names: [a.example, '*.example.org']
 *           cert_path: /etc/ssl/a.pem
 *           key_path: /etc/ssl/a.key
 *       alpn: [h2, http/1.1]
 *   - addr: 0.0.0.0:80
 *     h2c: false
 *   - addr: unix:/run/pingora.sock
 *     unix_mode: 0o660
 * ```
 */
import { isIP } from 'node:net';
import { z } from 'zod';

/** The ALPN protocol IDs a listener may offer (IANA's HTTP ones); anything else is a config error. */
export const KNOWN_ALPN = ['h2', 'http/1.1', 'http/1.0'] as const;

/** The TLS protocol versions a listener may require at least. */
export const TLS_MIN_VERSIONS = ['TLSv1.2', 'TLSv1.3'] as const;

/** One certificate chosen by SNI for the names it lists. */
export const tlsCertSchema = z.strictObject({
  /** Exact names (`a.example`) or one-label wildcards (`*.example.org`). */
  server_names: z.array(z.string().min(1)).min(1, 'at least one server name is needed'),
  /** PEM certificate chain. */
  cert_path: z.string().min(1),
  /** PEM private key of that certificate. */
  key_path: z.string().min(1),
});

export const tlsConfigSchema = z.strictObject({
  /** The default certificate: served when no SNI entry matches (or the client sends no SNI). */
  cert_path: z.string().min(1),
  key_path: z.string().min(1),
  /** Certificates picked by SNI: exact names first, then wildcards, then the default. */
  certs: z.array(tlsCertSchema).default([]),
  /** Oldest TLS version accepted. */
  min_version: z.enum(TLS_MIN_VERSIONS).default('TLSv1.2'),
  /**
   * ALPN protocols offered, in order of preference; only what the service serves. Default:
   * everything the service serves (`[h2, http/1.1]` for the HTTP proxy), else `[http/1.1]`.
   */
  alpn: z
    .array(z.string().refine((p) => (KNOWN_ALPN as readonly string[]).includes(p), { error: (i) => `unknown ALPN protocol ${JSON.stringify(i.input)} (known: ${KNOWN_ALPN.join(', ')})` }))
    .min(1)
    .optional(),
});

const ADDR = /^(unix:.+|\/.+|\[[0-9a-fA-F:.]+\]:\d{1,5}|[^\s:[\]/]+:\d{1,5})$/;

export const listenerConfigSchema = z.strictObject({
  /** `host:port` (`0.0.0.0:80`, `[::1]:8080`, port 0 picks a free one) or `unix:/path`. */
  addr: z
    .string()
    .regex(ADDR, 'expected "host:port", "[v6]:port" or "unix:/path"')
    .refine((s) => s.startsWith('unix:') || s.startsWith('/') || Number(s.slice(s.lastIndexOf(':') + 1)) <= 65535, 'port must be 0-65535'),
  tls: tlsConfigSchema.optional(),
  /**
   * Cleartext HTTP/2 by prior knowledge on this port beside HTTP/1.1 (for services that serve
   * HTTP/2): a connection starting with the HTTP/2 preface is served as h2c. Default true.
   */
  h2c: z.boolean().optional(),
  /** File mode of a Unix socket (e.g. `0o660`); default: what the umask gives. */
  unix_mode: z.number().int().min(0).max(0o777).optional(),
});

/** A TLS certificate entry as parsed (defaults filled). */
export type TlsCertConfig = z.infer<typeof tlsCertSchema>;
/** TLS settings of a listener as parsed (defaults filled). */
export type TlsConfig = z.infer<typeof tlsConfigSchema>;
/** TLS settings as written: defaulted keys may be left out. */
export type TlsConfigInput = z.input<typeof tlsConfigSchema>;
/** One listener as parsed. */
export type ListenerConfig = z.infer<typeof listenerConfigSchema>;
/** One listener as written (what `openListener` accepts). */
export type ListenerConfigInput = z.input<typeof listenerConfigSchema>;

/** Where a listener binds, parsed from `addr`. */
export type ListenTarget = { kind: 'tcp'; host: string; port: number; family: 4 | 6 | 0 } | { kind: 'unix'; path: string };

/**
 * Parses `addr`: `unix:/path` (or a bare absolute path), `host:port`, `[v6]:port`.
 * `family` is 0 for a host name that still needs a DNS lookup. Throws a TypeError otherwise.
 */
export function parseListenAddr(addr: string): ListenTarget {
  if (addr.startsWith('unix:')) return { kind: 'unix', path: addr.slice(5) };
  if (addr.startsWith('/')) return { kind: 'unix', path: addr };
  const colon = addr.lastIndexOf(':');
  const portText = addr.slice(colon + 1);
  const port = Number(portText);
  let host = addr.slice(0, colon);
  const bracketed = host.startsWith('[') && host.endsWith(']');
  if (bracketed) host = host.slice(1, -1);
  if (colon <= 0 || host === '' || portText === '' || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw new TypeError(`invalid listen address "${addr}": expected "host:port", "[v6]:port" or "unix:/path"`);
  }
  const family = isIP(host);
  // `::1:80` could be read two ways; the brackets say where the port starts.
  if (host.includes(':') && (family !== 6 || !bracketed)) throw new TypeError(`invalid listen address "${addr}": an IPv6 address is written "[addr]:port"`);
  return { kind: 'tcp', host: host.toLowerCase(), port, family: family === 4 || family === 6 ? family : 0 };
}

/**
 * The identity of a listening socket across processes: a new process during an upgrade takes
 * over the socket whose key matches one of its listeners (`tcp:127.0.0.1:8080`, `unix:/run/x`).
 */
export function listenerKey(addr: string): string {
  const t = parseListenAddr(addr);
  return t.kind === 'unix' ? `unix:${t.path}` : `tcp:${t.host}:${t.port}`;
}
