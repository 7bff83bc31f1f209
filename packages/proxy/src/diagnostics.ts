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
  /** One message per request as it starts, before the first hook (in-flight counts). */
  requestStart: 'pingora-ts:proxy:request-start',
  /** One message per upstream attempt that got a connection, new or reused from the pool. */
  upstreamConnection: 'pingora-ts:proxy:upstream-connection',
} as const;

/** The message on `pingora-ts:proxy:request-start`. */
export interface ProxyRequestStartMessage {
  service: string;
  session: Session;
}

/** The message on `pingora-ts:proxy:upstream-connection`. */
export interface UpstreamConnectionMessage {
  service: string;
  /** The peer's address (`HttpPeer.address`), as `upstreamPeer` returned it. */
  address: string;
  /** The connection (or HTTP/2 session) was reused from the pool. */
  reused: boolean;
}

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
const requestStartChannel = channel(CHANNELS.requestStart);
const upstreamConnectionChannel = channel(CHANNELS.upstreamConnection);

/** Publishes a request's start if anyone listens. */
export function publishRequestStart(service: string, session: Session): void {
  if (!requestStartChannel.hasSubscribers) return;
  const message: ProxyRequestStartMessage = { service, session };
  requestStartChannel.publish(message);
}

/** Publishes an attempt's connection if anyone listens. */
export function publishUpstreamConnection(service: string, address: string, reused: boolean): void {
  if (!upstreamConnectionChannel.hasSubscribers) return;
  const message: UpstreamConnectionMessage = { service, address, reused };
  upstreamConnectionChannel.publish(message);
}

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
