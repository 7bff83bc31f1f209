import { connect } from 'node:net';
import { ProxyError } from '@pingora-ts/core';
import type { Backend } from '../backend';
import type { HealthCheck } from './health-check';

export interface TcpHealthCheckOptions {
  /** Successes in a row that bring an unhealthy backend back. Default 1. */
  consecutiveSuccess?: number;
  /** Failures in a row that take a healthy backend out. Default 1. */
  consecutiveFailure?: number;
  /** How long a connect may take before it counts as a failure. Default 1000 ms. */
  connectTimeoutMs?: number;
}

/**
 * The simplest health check (Pingora's `TcpHealthCheck`): a backend is healthy when a TCP
 * connection to it completes within `connectTimeoutMs`. The connection is closed at once;
 * nothing is sent.
 *
 * A failed check rejects with a `ProxyError` from the upstream: `ConnectRefused`,
 * `ConnectTimedout` or `ConnectError`, with the address as its `context`.
 */
export class TcpHealthCheck implements HealthCheck {
  readonly consecutiveSuccess: number;
  readonly consecutiveFailure: number;
  readonly connectTimeoutMs: number;

  constructor(opts: TcpHealthCheckOptions = {}) {
    this.consecutiveSuccess = positiveInt('consecutiveSuccess', opts.consecutiveSuccess ?? 1);
    this.consecutiveFailure = positiveInt('consecutiveFailure', opts.consecutiveFailure ?? 1);
    const timeout = opts.connectTimeoutMs ?? 1000;
    if (!Number.isFinite(timeout) || timeout <= 0) {
      throw ProxyError.internal('ConfigError', `TcpHealthCheck: connectTimeoutMs must be a positive number, got ${String(timeout)}`);
    }
    this.connectTimeoutMs = timeout;
  }

  healthThreshold(success: boolean): number {
    return success ? this.consecutiveSuccess : this.consecutiveFailure;
  }

  check(backend: Backend, signal?: AbortSignal): Promise<void> {
    const addr = backend.addr;
    return new Promise<void>((resolve, reject) => {
      if (signal?.aborted) {
        reject(ProxyError.internal('InternalError', `health check of ${addr} aborted`));
        return;
      }
      let settled = false;
      const socket = connect({ host: backend.host, port: backend.port });
      const finish = (err?: ProxyError): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        socket.destroy();
        if (err) reject(err);
        else resolve();
      };
      const onAbort = (): void => finish(ProxyError.internal('InternalError', `health check of ${addr} aborted`));
      const timer = setTimeout(() => {
        finish(
          ProxyError.upstream('ConnectTimedout', `TCP connect to ${addr} timed out after ${this.connectTimeoutMs} ms`, undefined, addr),
        );
      }, this.connectTimeoutMs);
      socket.once('connect', () => finish());
      // `on`, not `once`: a late error after `finish` must still have a listener.
      socket.on('error', (e: NodeJS.ErrnoException) => {
        const kind = e.code === 'ECONNREFUSED' ? 'ConnectRefused' : e.code === 'ETIMEDOUT' ? 'ConnectTimedout' : 'ConnectError';
        finish(ProxyError.upstream(kind, `TCP connect to ${addr} failed: ${e.message}`, e, addr));
      });
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }
}

function positiveInt(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 1) {
    throw ProxyError.internal('ConfigError', `TcpHealthCheck: ${name} must be an integer >= 1, got ${String(value)}`);
  }
  return value;
}
