/**
 * The upstream side of one attempt, whatever the protocol (Pingora's upstream `HttpSession`):
 * write the request head, write its body with backpressure, read the response head, read its
 * body on demand with backpressure, then give the connection back (reused when it can be) or
 * abandon it. The attempt logic talks only to this interface; `Http1UpstreamSession` is the
 * HTTP/1.1 implementation over the pool's `HttpConnection`. An HTTP/2 stream is another.
 */
import type { ProxyError } from '@pingora-ts/core';
import type { BodySink, BodySource, BodyTarget } from '../flow/body-sink';
import type { TunnelSide } from '../flow/tunnel';
import type { HttpPeer } from '../http-peer';
import type { RequestHeader } from '../request-header';

/** How the request body is framed: none, a counted length, or streamed (chunked in HTTP/1.1). */
export type UpstreamBodyFraming = 'none' | 'content-length' | 'chunked';

/** What the upstream session reports to its attempt. */
export interface UpstreamEvents {
  /** The final response head. Its body waits (the session is paused) until `readBody`. */
  onResponseHead(status: number, reason: string, rawHeaders: string[]): void;
  /** The upstream finished its response: a request body still being sent is no longer wanted. */
  onResponseComplete(): void;
  /** The exchange failed (reset, timeout, bad response); the connection is already abandoned. At most once. */
  onUpstreamError(err: ProxyError): void;
  /** The request body may be written again after `write` returned false. */
  onUpstreamDrain(): void;
}

export interface UpstreamSession extends BodyTarget, BodySource {
  /** The connection carried an earlier request. */
  readonly reused: boolean;
  /**
   * Sends the request head. With `body: 'none'` the request is complete; else `write` and `end`
   * (from `BodyTarget`) send its body. `upgrade`: the head asks for a protocol upgrade, so a
   * `101` may answer it (reported by `onResponseHead`, then `takeSocket`). Throws when the
   * session cannot take a request.
   */
  writeHead(request: RequestHeader, body: UpstreamBodyFraming, events: UpstreamEvents, upgrade?: boolean): void;
  /** Starts handing the response body to `sink` (what arrived before is handed over first). */
  readBody(sink: BodySink): void;
  /** Gives the connection back before any request was written on it (the pool keeps it). */
  release(): void;
  /** Abandons the exchange: nothing more is reported and the connection is not reused. */
  abort(): void;
  /**
   * After a `101` head (or, for `CONNECT`, right after connecting, before any request was
   * written): hands the connection's socket over to a tunnel, with the bytes read past the
   * head. The session is over and the connection never reused. Absent where the protocol
   * cannot give a socket (an HTTP/2 stream).
   */
  takeSocket?(): TunnelSide;
}

/** Opens upstream sessions to peers (the pool's connections for HTTP/1.1). */
export interface UpstreamConnector {
  /** A session on an idle connection to `peer`, or null when none is idle (then `connect`). */
  reuse(peer: HttpPeer): UpstreamSession | null;
  /** A session on a new connection (or one that came free). */
  connect(peer: HttpPeer): Promise<UpstreamSession>;
}
