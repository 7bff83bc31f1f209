import { isIP } from 'node:net';
import { ProxyError, type ErrorKind } from '@pingora-ts/core';

/** Checks an option that must be an integer ≥ 1; throws a `ConfigError` naming it. */
export function positiveInt(owner: string, name: string, value: number): number {
  if (!Number.isInteger(value) || value < 1) {
    throw ProxyError.internal('ConfigError', `${owner}: ${name} must be an integer >= 1, got ${String(value)}`);
  }
  return value;
}

/** Checks an option that must be a positive finite number of ms; throws a `ConfigError` naming it. */
export function positiveMs(owner: string, name: string, value: number): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw ProxyError.internal('ConfigError', `${owner}: ${name} must be a positive number of ms, got ${String(value)}`);
  }
  return value;
}

/** The `ProxyError` kind of a failed connect, from the socket error's code. */
export function connectErrorKind(code: string | undefined): ErrorKind {
  return code === 'ECONNREFUSED' ? 'ConnectRefused' : code === 'ETIMEDOUT' ? 'ConnectTimedout' : 'ConnectError';
}

/** A short reason for a connect error: "connection refused" beats "connect ECONNREFUSED 127.0.0.1:1". */
export function connectErrorText(e: NodeJS.ErrnoException): string {
  if (e.code === 'ECONNREFUSED') return 'connection refused';
  if (e.code === 'ECONNRESET') return 'connection reset';
  return e.code ? `${e.code}: ${e.message}` : e.message;
}

/**
 * The TLS server name to send: `sni` when given, else the backend's host when it is a name
 * (an IP address is never sent as SNI, RFC 6066), else none.
 */
export function serverName(sni: string | undefined, host: string): string | undefined {
  if (sni !== undefined && sni !== '') return sni;
  return isIP(host) === 0 ? host : undefined;
}

/** The error a probe settles with when its signal aborts. */
export function abortedError(what: string, addr: string): ProxyError {
  return ProxyError.internal('InternalError', `${what} of ${addr} aborted`);
}

/** Trusted CAs given to a check: PEM text or buffers, one or many. */
export type CaOption = string | Buffer | readonly (string | Buffer)[];

/** `ca` as node:tls wants it (a mutable array). */
export function caList(ca: CaOption | undefined): (string | Buffer)[] | undefined {
  if (ca === undefined) return undefined;
  return typeof ca === 'string' || Buffer.isBuffer(ca) ? [ca] : [...ca];
}

/** `checkServerIdentity` for `verifyHostname: false`: the chain is still verified, the name is not. */
export function skipIdentity(): undefined {
  return undefined;
}
