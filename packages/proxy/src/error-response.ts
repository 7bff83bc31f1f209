/**
 * The default error response (`failToProxy`'s default): a short text body with the error's
 * status, and `Connection: close` (the request body may be unread). When a response head was
 * already sent, or the client is gone, the connection is dropped instead. A gRPC request
 * (`content-type: application/grpc…`) gets a trailers-only answer instead of a text page:
 * `:status 200` with `grpc-status` (14 UNAVAILABLE, 4 DEADLINE_EXCEEDED for a 504) and
 * `grpc-message`, as gRPC clients expect.
 */
import { STATUS_CODES } from 'node:http';
import { equalsLower } from './equals-lower';
import type { Session } from './session';

/** Sends `status` with a text body, or destroys the connection when that is no longer possible. */
export function sendErrorResponse(session: Session, status: number): void {
  const downstream = session.downstreamSession;
  if (downstream.headersSent || downstream.gone || status < 400 || status === 499) {
    downstream.destroy();
    return;
  }
  const text = `${status} ${STATUS_CODES[status] ?? 'Error'}`;
  if (isGrpc(downstream.rawHeaders)) {
    downstream.respond(200, ['content-type', 'application/grpc', 'grpc-status', String(grpcStatusOf(status)), 'grpc-message', encodeURIComponent(`proxy: ${text}`)], undefined);
    return;
  }
  downstream.respond(status, ['content-type', 'text/plain; charset=utf-8', 'connection', 'close', 'cache-control', 'private, no-store'], text + '\n');
}

/** The request's `content-type` is gRPC's (`application/grpc`, `application/grpc+proto`, …). */
export function isGrpc(raw: readonly string[]): boolean {
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i] as string;
    if (name.length === 12 && equalsLower(name, 'content-type')) {
      const v = raw[i + 1] as string;
      return v.length >= 16 && equalsLower(v.slice(0, 16), 'application/grpc');
    }
  }
  return false;
}

/** gRPC's status for an HTTP error status (gRPC's http-grpc-status-mapping, 504 as DEADLINE_EXCEEDED). */
export function grpcStatusOf(status: number): number {
  switch (status) {
    case 504:
      return 4; // DEADLINE_EXCEEDED
    case 429:
    case 502:
    case 503:
      return 14; // UNAVAILABLE
    case 401:
      return 16; // UNAUTHENTICATED
    case 403:
      return 7; // PERMISSION_DENIED
    case 404:
      return 12; // UNIMPLEMENTED
    case 400:
    case 500:
      return 13; // INTERNAL
    default:
      return 2; // UNKNOWN
  }
}
