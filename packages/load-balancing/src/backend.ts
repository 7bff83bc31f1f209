import { isIPv4, isIPv6 } from 'node:net';
import { ProxyError } from '@pingora-ts/core';

/** The largest weight a `Backend` accepts (2^32 - 1), so weight sums stay exact. */
export const MAX_BACKEND_WEIGHT = 0xffff_ffff;

/** Letters, digits, `-`, `_` and `.`: what a DNS name may hold (checked once, at construction). */
const HOSTNAME = /^[A-Za-z0-9_](?:[A-Za-z0-9_.-]*[A-Za-z0-9_])?$/;
/** Digits and dots only: meant as an IPv4 address, so it must be a valid one. */
const DOTTED_DIGITS = /^[0-9.]+$/;

/**
 * One upstream server that traffic can go to, after Pingora's `Backend`.
 *
 * `addr` is `"host:port"`: an IPv4 address, a DNS name, or a bracketed IPv6 address
 * (`"[::1]:8080"`). `weight` is how much traffic it gets relative to the others (an integer
 * of at least 1). `ext` carries whatever the application wants to attach (a TLS SNI, a
 * pool group, a label); the balancer never reads it.
 *
 * Two backends with the same `addr` are the same backend: `key` (the address) is what the
 * health map and the selection algorithms use to tell backends apart.
 */
export class Backend {
  /** The address as given, `"host:port"` (IPv6 in brackets). */
  readonly addr: string;
  /** Relative share of traffic; an integer in `[1, MAX_BACKEND_WEIGHT]`. */
  readonly weight: number;
  /** The host part of `addr`, without IPv6 brackets (ready for `net.connect`). */
  readonly host: string;
  /** The port part of `addr`, 1–65535. */
  readonly port: number;
  /** Stable identity of this backend (its address); health state is kept under it. */
  readonly key: string;
  /** Free-form user data; never read by this package. */
  readonly ext: Map<string, unknown> = new Map();

  /**
   * @param addr `"host:port"`, e.g. `"127.0.0.1:8080"`, `"api.internal:443"`, `"[::1]:8080"`.
   * @param weight an integer ≥ 1 (default 1).
   * @throws ProxyError (`ConfigError`) when the address or the weight is invalid.
   */
  constructor(addr: string, weight = 1) {
    const { host, port } = parseAddr(addr);
    if (!Number.isInteger(weight) || weight < 1 || weight > MAX_BACKEND_WEIGHT) {
      throw invalid(`invalid weight ${String(weight)} for backend ${addr}: expected an integer from 1 to ${MAX_BACKEND_WEIGHT}`);
    }
    this.addr = addr;
    this.weight = weight;
    this.host = host;
    this.port = port;
    this.key = addr;
  }

  /** The address, so a backend prints as itself in logs and template strings. */
  toString(): string {
    return this.addr;
  }
}

function invalid(message: string): ProxyError {
  return ProxyError.internal('ConfigError', message);
}

/** Splits and checks `"host:port"`; throws a `ConfigError` that names the bad part. */
function parseAddr(addr: unknown): { host: string; port: number } {
  if (typeof addr !== 'string' || addr.length === 0) {
    throw invalid(`invalid backend address ${JSON.stringify(addr)}: expected "host:port"`);
  }
  let host: string;
  let portText: string;
  if (addr.startsWith('[')) {
    const close = addr.indexOf(']');
    if (close < 0 || addr[close + 1] !== ':') {
      throw invalid(`invalid backend address "${addr}": expected "[ipv6]:port"`);
    }
    host = addr.slice(1, close);
    portText = addr.slice(close + 2);
    if (!isIPv6(host)) throw invalid(`invalid backend address "${addr}": "${host}" is not an IPv6 address`);
  } else {
    const colon = addr.lastIndexOf(':');
    if (colon < 0) throw invalid(`invalid backend address "${addr}": missing ":port"`);
    host = addr.slice(0, colon);
    portText = addr.slice(colon + 1);
    if (host.includes(':')) {
      throw invalid(`invalid backend address "${addr}": put an IPv6 address in brackets, e.g. "[::1]:8080"`);
    }
    if (host.length === 0) throw invalid(`invalid backend address "${addr}": missing host`);
    const ok = DOTTED_DIGITS.test(host) ? isIPv4(host) : HOSTNAME.test(host) && host.length <= 253;
    if (!ok) throw invalid(`invalid backend address "${addr}": "${host}" is not an IPv4 address or a host name`);
  }
  if (!/^[0-9]{1,5}$/.test(portText)) {
    throw invalid(`invalid backend address "${addr}": port "${portText}" is not a number`);
  }
  const port = Number(portText);
  if (port < 1 || port > 65535) throw invalid(`invalid backend address "${addr}": port ${port} is out of range 1-65535`);
  return { host, port };
}
