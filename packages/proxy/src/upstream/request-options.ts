/**
 * The options of an upstream request (`HttpConnection.request`) depend only on the peer and
 * the body framing, so they are made once per peer (peer options are frozen) instead of per
 * request.
 */
import type { RequestBodyFraming, RequestOptions } from '@pingora-ts/pool';
import type { HttpPeer } from '../http-peer';

const byPeer = new WeakMap<HttpPeer, Readonly<Record<RequestBodyFraming, RequestOptions>>>();

/** `{ body: framing, readTimeoutMs, writeTimeoutMs }` for `peer`, the same object every time. */
export function requestOptions(peer: HttpPeer, framing: RequestBodyFraming): RequestOptions {
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
