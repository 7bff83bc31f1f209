/**
 * The small internal interface between the hook runner (`ProxyTask`) and a downstream HTTP/1.1
 * implementation: one object per request that reads the request (head, then body on demand)
 * and writes the response, and one listener per address. Two implementations exist: the fast
 * one on `net` + llhttp (`fast-*.ts`) and the node:http one (`node-*.ts`).
 */
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';
import type { ProxyError } from '@pingora-ts/core';
import type { BoundAddress, Listener } from '@pingora-ts/core';
import type { Socket } from 'node:net';
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

/** Receives the request body once `readBody` was called. */
export interface RequestBodySink {
  /** One piece of the body, **not the whole body**. */
  onRequestBodyChunk(chunk: Buffer): void;
  /** The body is complete. */
  onRequestBodyEnd(): void;
}

/** One downstream request and its response. */
export interface DownstreamIo {
  readonly method: string;
  /** The raw request target. */
  readonly target: string;
  /** Request headers as received: `[name, value, …]`. */
  readonly rawHeaders: string[];
  /** `'1.1'` or `'1.0'`. */
  readonly httpVersion: string;
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
  /** Starts delivering the request body to `sink` (a `100 Continue` goes out first if the client asked). */
  readBody(sink: RequestBodySink): void;
  /** Stops reading the body (backpressure) until `resumeBody`. */
  pauseBody(): void;
  resumeBody(): void;
  /** No more body for the sink: `discard` reads and drops the rest (keep-alive), else leaves it unread. */
  stopBody(discard: boolean): void;

  /** Writes the response head (`rawHeaders` is `[name, value, …]`); throws on an invalid head. */
  writeHead(status: number, reason: string, rawHeaders: string[]): void;
  /** Writes body bytes; `false` means wait for `onDownstreamDrain`. */
  write(chunk: Buffer): boolean;
  /** Sends the head soon even if no body byte follows in this tick (streaming responses). */
  flushHead(): void;
  /** Ends the response. */
  end(): void;
  /** A complete response in one go; `Content-Length` is set from `body` unless given. */
  respond(status: number, headers: OutgoingHttpHeaders | readonly string[] | undefined, body: string | Uint8Array | undefined): void;
  /** The connection closes after this response (`Connection: close`). */
  closeAfterResponse(): void;
  /** Drops the connection now, both directions. */
  destroy(): void;
}

/** Limits shared by both downstream paths. */
export interface DownstreamLimits {
  keepAliveTimeoutMs: number;
  headersTimeoutMs: number;
  /** 0: none. */
  requestTimeoutMs: number;
  maxHeaderSize: number;
}

/** One listening address of either path. */
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
export type RequestHandler = (io: DownstreamIo) => void;
