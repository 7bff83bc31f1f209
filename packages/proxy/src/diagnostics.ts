/**
 * `node:diagnostics_channel` channels the proxy publishes on, so observability can subscribe
 * without importing this package. Messages are only built when someone subscribes.
 */
import { channel } from 'node:diagnostics_channel';
import type { ProxyError } from '@pingora-ts/core';
import type { Session } from './session';

/** Channel names. */
export const CHANNELS = {
  /** One message per finished request, right after the `logging` hook. */
  request: 'pingora-ts:proxy:request',
  /** One message per request failed by a hook that threw or a bug (see `internal-error-channel.ts`). */
  internalError: 'pingora-ts:proxy:internal-error',
} as const;

/** The message on `pingora-ts:proxy:request`. */
export interface ProxyRequestMessage {
  /** The service name given to `HttpProxy`. */
  service: string;
  method: string;
  path: string;
  /** Status sent downstream (0: none, e.g. the client went away first). */
  status: number;
  bytesSent: number;
  durationMs: number;
  clientAddr: string;
  /** Last upstream address tried, or null. */
  upstream: string | null;
  /** Whether the last attempt used a reused pool connection (null: no connection made). */
  reused: boolean | null;
  retries: number;
  error: ProxyError | null;
  session: Session;
}

export const requestChannel = channel(CHANNELS.request);

/** Publishes the request summary if anyone listens. */
export function publishRequest(service: string, session: Session, error: ProxyError | null): void {
  if (!requestChannel.hasSubscribers) return;
  const up = session.upstream;
  const message: ProxyRequestMessage = {
    service,
    method: session.method,
    path: session.path,
    status: session.status,
    bytesSent: session.bytesSent,
    durationMs: session.durationMs(),
    clientAddr: session.clientAddr,
    upstream: up === null ? null : up.address,
    reused: up === null ? null : up.reused,
    retries: session.retries,
    error,
    session,
  };
  requestChannel.publish(message);
}
