import type { ProxyError } from '@pingora-ts/core';
import type { RequestOutcome } from '@pingora-ts/load-balancing';

/** The outcome of an attempt that got a response head with `status` (-1: none, counted as `ok`). */
export function statusOutcome(status: number): RequestOutcome {
  return status >= 500 && status <= 599 ? 'http_5xx' : 'ok';
}

/**
 * How an attempt that failed with `e` ended, for the load balancer: an error of the backend's
 * making by its kind (`ConnectRefused` / `ConnectError` → `connect_error`; `ConnectTimedout`,
 * `ReadTimedout` → `timeout`; a connection that broke or an invalid response → `reset`). An
 * error of the client's or our own (the client left, a hook threw, our own `max_connections`
 * cap reached: `ConnectionLimitReached`, which would otherwise eject healthy backends in a
 * burst) says nothing against the backend: the outcome is then its response head's status (`status`,
 * -1 when none came), so `ok` before a head. Neither does a pooled keep-alive connection
 * (`reused`) that the backend had closed before any answer (`ConnectionClosed`, `WriteError`):
 * the usual race with its idle timeout, which the proxy retries on a fresh connection.
 */
export function outcomeOf(e: ProxyError, status: number, reused = false): RequestOutcome {
  if (e.source !== 'upstream' || e.kind === 'ConnectionLimitReached') return statusOutcome(status);
  if (reused && status < 0 && (e.kind === 'ConnectionClosed' || e.kind === 'WriteError')) return 'ok';
  switch (e.kind) {
    case 'ConnectRefused':
    case 'ConnectError':
      return 'connect_error';
    case 'ConnectTimedout':
    case 'ReadTimedout':
      return 'timeout';
    default:
      return 'reset';
  }
}
