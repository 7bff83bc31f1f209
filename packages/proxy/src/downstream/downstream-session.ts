/**
 * The downstream side of one request, whatever the protocol (Pingora's downstream
 * `HttpSession`): read the request head, read its body on demand with backpressure, write the
 * response head, body and trailers, finish or abort, and say whether the connection is kept.
 * The phase logic (`ProxyTask`, `Attempt`) talks only to this interface, and listeners hand it
 * one object per request. HTTP/1.1 has two implementations: `LlhttpSession` (`net` + llhttp)
 * and `NodeHttpSession` (node:http). An HTTP/2 stream is another.
 */
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';
import type { ProxyError } from '@pingora-ts/core';
import type { BoundAddress, Listener } from '@pingora-ts/core';
import type { Socket } from 'node:net';
import type { BodySink, BodySource, BodyTarget } from '../flow/body-sink';
import type { TunnelSide } from '../flow/tunnel';
import type { DownstreamAccess } from '../session';

/** Told about the downstream side of a running request (implemented by the runner). */
export interface DownstreamEvents {
  /** The socket can take more response bytes after `write` returned `false`. */
  onDownstreamDrain(): void;
  /**
   * The request cannot go on: the client went away (`ClientGone`), or its body turned out
   * malformed or too slow (`InvalidHTTPRequest`, 400 or 408). Called at most once.
   */
  onDownstreamError(err: ProxyError): void;
}

/** One downstream request and its response. */
export interface DownstreamSession extends BodySource, BodyTarget {
  readonly method: string;
  /** The raw request target. */
  readonly target: string;
  /** Request headers as received: `[name, value, …]`. */
  readonly rawHeaders: string[];
  /** `'1.1'`, `'1.0'` or `'2.0'`. */
  readonly httpVersion: string;
  /**
   * The request has a body that its headers do not announce (an HTTP/2 stream without
   * `Content-Length` that did not end with its HEADERS); always false on HTTP/1.1.
   */
  readonly unframedBody: boolean;
  /** `'https'` on a TLS listener, else `'http'` (sent upstream as `X-Forwarded-Proto`). */
  readonly scheme: 'http' | 'https';
  /** Request headers, names lower-cased (node:http's `IncomingMessage.headers` rules). */
  readonly headers: IncomingHttpHeaders;
  /** node:http's request and response; throws on a path that has none. */
  readonly access: DownstreamAccess;
  /** Status sent downstream; 0 until a head was written. */
  readonly status: number;
  /** Response body bytes written. */
  readonly bytesSent: number;
  /** A response head was written (or is queued to go with the first body bytes). */
  readonly headersSent: boolean;
  /** The client is gone (connection closed or destroyed). */
  readonly gone: boolean;
  /** The client's IP (IPv4-mapped IPv6 shown as plain IPv4). */
  clientIp(): string;
  clientPort(): number;

  /** Where drain and error events go. */
  setEvents(events: DownstreamEvents): void;
  /**
   * Starts delivering the request body to `sink` (a `100 Continue` goes out first if the client
   * asked). `pauseBody` / `resumeBody` (from `BodySource`) hold it for backpressure.
   */
  readBody(sink: BodySink): void;
  /** No more body for the sink: `discard` reads and drops the rest (keep-alive), else leaves it unread. */
  stopBody(discard: boolean): void;

  /** Writes the response head (`rawHeaders` is `[name, value, …]`); throws on an invalid head. */
  writeHead(status: number, reason: string, rawHeaders: string[]): void;
  /**
   * `write` (from `BodyTarget`) writes body bytes; `false` means wait for `onDownstreamDrain`.
   * `end(trailers)` ends the response, with trailers where the response can carry them
   * (a chunked HTTP/1.1 response); without them elsewhere.
   */
  /** Sends the head soon even if no body byte follows in this tick (streaming responses). */
  flushHead(): void;
  /** A complete response in one go; `Content-Length` is set from `body` unless given. */
  respond(status: number, headers: OutgoingHttpHeaders | readonly string[] | undefined, body: string | Uint8Array | undefined): void;
  /** The connection closes after this response (`Connection: close`). */
  closeAfterResponse(): void;
  /** Drops the connection now, both directions. */
  destroy(): void;
  /**
   * After a `101 Switching Protocols` head (or a `2xx` to `CONNECT`) was written: sends what of
   * it is still queued and hands the connection's socket over to a tunnel, with the bytes the
   * client sent past its request. The session is over (its response counts as ended); the
   * socket is the tunnel's. Absent where the protocol has no socket of its own to give (an
   * HTTP/2 stream): a `101` is then not forwarded.
   */
  takeSocket?(): TunnelSide;
}

/** Limits shared by both downstream paths. */
export interface DownstreamLimits {
  keepAliveTimeoutMs: number;
  headersTimeoutMs: number;
  /** 0: none. */
  requestTimeoutMs: number;
  maxHeaderSize: number;
}

/** Opens the core listener a downstream listener serves on, handing it every accepted socket. */
export type OpenCoreListener = (onConnection: (socket: Socket) => void) => Promise<Listener>;

export interface DownstreamListener {
  readonly addr: string;
  /** Open connections. */
  readonly connections: number;
  /** Serves on the socket core opens (fresh, inherited from a primary, or taken over in an upgrade). */
  listen(open: OpenCoreListener): Promise<void>;
  address(): BoundAddress | null;
  /**
   * Graceful: stop accepting, close idle connections now, let requests in flight finish (their
   * connections close after the response), destroy what is left after `timeoutMs`.
   * Not graceful: destroy every connection now. Idempotent.
   */
  shutdown(graceful: boolean, timeoutMs: number): Promise<void>;
}

/** Called for every request a listener receives. */
export type RequestHandler = (session: DownstreamSession) => void;
