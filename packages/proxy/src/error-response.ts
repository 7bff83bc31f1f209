/**
 * The default error response (`failToProxy`'s default): a short text body with the error's
 * status, and `Connection: close` (the request body may be unread). When a response head was
 * already sent, or the client is gone, the connection is dropped instead.
 */
import { STATUS_CODES } from 'node:http';
import type { Session } from './session';

/** Sends `status` with a text body, or destroys the connection when that is no longer possible. */
export function sendErrorResponse(session: Session, status: number): void {
  const downstream = session.downstreamSession;
  if (downstream.headersSent || downstream.gone || status < 400 || status === 499) {
    downstream.destroy();
    return;
  }
  const body = `${status} ${STATUS_CODES[status] ?? 'Error'}\n`;
  downstream.respond(status, ['content-type', 'text/plain; charset=utf-8', 'connection', 'close', 'cache-control', 'private, no-store'], body);
}

