/**
 * The options of an upstream request (`HttpConnection.request`) depend only on the peer and
 * the body framing, so they are made once per peer (peer options are frozen) instead of per
 * request.
 */
import type { RequestBodyFraming, RequestOptions } from '@pingora-ts/pool';
import type { HttpPeer } from '../http-peer';

const byPeer = new WeakMap<HttpPeer, Readonly<Record<RequestBodyFraming, RequestOptions>>>();

/**
 * `{ body: framing, readTimeoutMs, writeTimeoutMs }` for `peer`, the same object every time;
 * a new one when `deadlineMs` (a request's own, e.g. `grpc-timeout`) is shorter than the peer's read timeout.
 */
export function requestOptions(peer: HttpPeer, framing: RequestBodyFraming, deadlineMs: number | null = null): RequestOptions {
  if (deadlineMs !== null && (peer.options.readTimeoutMs === 0 || deadlineMs < peer.options.readTimeoutMs)) {
    return { body: framing, readTimeoutMs: deadlineMs, writeTimeoutMs: peer.options.writeTimeoutMs };
  }
  let options = byPeer.get(peer);
  if (options === undefined) {
    const { readTimeoutMs, writeTimeoutMs } = peer.options;
    options = {
      none: { body: 'none', readTimeoutMs, writeTimeoutMs },
      'content-length': { body: 'content-length', readTimeoutMs, writeTimeoutMs },
      chunked: { body: 'chunked', readTimeoutMs, writeTimeoutMs },
    };
    byPeer.set(peer, options);
  }
  return options[framing];
}
