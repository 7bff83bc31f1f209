import { connect, type TLSSocket } from 'node:tls';
import { ProxyError } from '@pingora-ts/core';
import type { Backend } from '../backend';
import { abortedError, caList, connectErrorKind, connectErrorText, positiveInt, positiveMs, serverName, skipIdentity, type CaOption } from '../internal/check-support';
import type { HealthCheck } from './health-check';

export interface TlsHealthCheckOptions {
  /** Successes in a row that bring an unhealthy backend back. Default 1. */
  consecutiveSuccess?: number;
  /** Failures in a row that take a healthy backend out. Default 1. */
  consecutiveFailure?: number;
  /** How long the TCP connect and the TLS handshake may take together. Default 1000 ms. */
  timeoutMs?: number;
  /** Server name sent (SNI) and checked in the certificate. Default: the backend's host when it is a name. */
  sni?: string;
  /** Check the certificate chain and name (default `true`): a backend with a bad certificate is unhealthy. */
  verify?: boolean;
  /** With `verify`: also check that the certificate names the server (default `true`); `false` checks the chain only. */
  verifyHostname?: boolean;
  /** CAs to trust instead of Node's defaults (PEM), e.g. an internal CA. */
  ca?: CaOption;
  /** ALPN protocols to offer (e.g. `['h2']`); when set, the backend must pick one of them. */
  alpn?: readonly string[];
}

/**
 * A backend is healthy when a TCP connection and a TLS handshake complete within
 * `timeoutMs`: it listens, speaks TLS, and (with `verify`, the default) shows a certificate
 * that chains to a trusted CA and names the SNI (or the IP address). The connection is closed
 * at once; nothing is sent.
 *
 * A failed check rejects with a `ProxyError` from the upstream: `ConnectRefused`,
 * `ConnectTimedout`, or `ConnectError` (TLS failures: an untrusted or misnamed certificate,
 * no common ALPN protocol), with the address as its `context`.
 */
export class TlsHealthCheck implements HealthCheck {
  readonly consecutiveSuccess: number;
  readonly consecutiveFailure: number;
  readonly timeoutMs: number;
  readonly sni: string | undefined;
  readonly verify: boolean;
  readonly verifyHostname: boolean;
  readonly alpn: readonly string[] | undefined;
  private readonly ca: (string | Buffer)[] | undefined;

  constructor(opts: TlsHealthCheckOptions = {}) {
    this.consecutiveSuccess = positiveInt('TlsHealthCheck', 'consecutiveSuccess', opts.consecutiveSuccess ?? 1);
    this.consecutiveFailure = positiveInt('TlsHealthCheck', 'consecutiveFailure', opts.consecutiveFailure ?? 1);
    this.timeoutMs = positiveMs('TlsHealthCheck', 'timeoutMs', opts.timeoutMs ?? 1000);
    this.sni = opts.sni;
    this.verify = opts.verify ?? true;
    this.verifyHostname = opts.verifyHostname ?? true;
    this.ca = caList(opts.ca);
    this.alpn = opts.alpn && opts.alpn.length > 0 ? [...opts.alpn] : undefined;
  }

  healthThreshold(success: boolean): number {
    return success ? this.consecutiveSuccess : this.consecutiveFailure;
  }

  check(backend: Backend, signal?: AbortSignal): Promise<void> {
    const addr = backend.addr;
    return new Promise<void>((resolve, reject) => {
      if (signal?.aborted) return reject(abortedError('TLS health check', addr));
      let settled = false;
      let tcpUp = false;
      const servername = serverName(this.sni, backend.host);
      const socket: TLSSocket = connect({
        host: backend.host,
        port: backend.port,
        rejectUnauthorized: this.verify,
        ...(this.verifyHostname ? {} : { checkServerIdentity: skipIdentity }),
        ...(servername === undefined ? {} : { servername }),
        ...(this.ca === undefined ? {} : { ca: this.ca }),
        ...(this.alpn === undefined ? {} : { ALPNProtocols: [...this.alpn] }),
      });
      const finish = (err?: ProxyError): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        socket.destroy();
        if (err) reject(err);
        else resolve();
      };
      const onAbort = (): void => finish(abortedError('TLS health check', addr));
      const timer = setTimeout(() => {
        const step = tcpUp ? 'TLS handshake with' : 'TCP connect to';
        finish(ProxyError.upstream('ConnectTimedout', `${step} ${addr} timed out after ${this.timeoutMs} ms`, undefined, addr));
      }, this.timeoutMs);
      socket.once('connect', () => (tcpUp = true));
      socket.once('secureConnect', () => {
        const alpn = this.alpn;
        if (alpn !== undefined && (typeof socket.alpnProtocol !== 'string' || !alpn.includes(socket.alpnProtocol))) {
          const got = socket.alpnProtocol ? `"${socket.alpnProtocol}"` : 'none';
          return finish(ProxyError.upstream('ConnectError', `TLS handshake with ${addr}: no common ALPN protocol (offered ${alpn.join(', ')}, got ${got})`, undefined, addr));
        }
        finish();
      });
      // `on`, not `once`: a late error after `finish` must still have a listener.
      socket.on('error', (e: NodeJS.ErrnoException) => {
        if (!tcpUp) return finish(ProxyError.upstream(connectErrorKind(e.code), `TCP connect to ${addr} failed: ${connectErrorText(e)}`, e, addr));
        finish(ProxyError.upstream('ConnectError', `TLS handshake with ${addr} failed: ${connectErrorText(e)}`, e, addr));
      });
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }
}
