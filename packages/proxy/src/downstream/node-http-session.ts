/**
 * The node:http path's `DownstreamSession`: node:http's request and response behind the
 * session's operations, counting the status and body bytes sent.
 */
import type { IncomingHttpHeaders, IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { ProxyError } from '@pingora-ts/core';
import type { DownstreamAccess } from '../session';
import type { BodySink } from '../flow/body-sink';
import type { DownstreamEvents, DownstreamSession } from './downstream-session';
import { clientIpOf } from './client-ip';
import { headersObject } from './headers-object';
import { originFormOf } from './request-target';

const kDownstream = Symbol('pingora-ts.nodeDownstream');

interface TaggedResponse extends ServerResponse {
  [kDownstream]: NodeHttpSession;
}

export class NodeHttpSession implements DownstreamSession, DownstreamAccess {
  status = 0;
  readonly unframedBody = false;
  bytesSent = 0;
  private events: DownstreamEvents | null = null;
  private sink: BodySink | null = null;
  private flushQueued = false;
  /** An absolute-form target's origin-form head (see `originFormOf`), else null. */
  private readonly origin: { target: string; rawHeaders: string[] } | null;
  private originHeaders: IncomingHttpHeaders | null = null;

  constructor(
    readonly req: IncomingMessage,
    readonly res: ServerResponse,
  ) {
    const url = req.url as string;
    this.origin = url.charCodeAt(0) === 47 /* / */ ? null : originFormOf(url, req.rawHeaders);
    (res as TaggedResponse)[kDownstream] = this;
    res.on('close', onResponseClose);
    res.on('drain', onResponseDrain);
  }

  get method(): string {
    return this.req.method as string;
  }

  get target(): string {
    return this.origin === null ? (this.req.url as string) : this.origin.target;
  }

  get rawHeaders(): string[] {
    return this.origin === null ? this.req.rawHeaders : this.origin.rawHeaders;
  }

  get httpVersion(): string {
    return this.req.httpVersion;
  }

  get headers(): IncomingHttpHeaders {
    if (this.origin === null) return this.req.headers;
    return (this.originHeaders ??= headersObject(this.origin.rawHeaders));
  }

  get access(): DownstreamAccess {
    return this;
  }

  get headersSent(): boolean {
    return this.res.headersSent;
  }

  get scheme(): 'http' | 'https' {
    return (this.req.socket as { encrypted?: boolean } | null)?.encrypted === true ? 'https' : 'http';
  }

  get gone(): boolean {
    const s = this.req.socket;
    return s === null || s.destroyed;
  }

  clientIp(): string {
    return clientIpOf(this.req.socket.remoteAddress);
  }

  clientPort(): number {
    return this.req.socket.remotePort ?? 0;
  }

  setEvents(events: DownstreamEvents): void {
    this.events = events;
  }

  readBody(sink: BodySink): void {
    const req = this.req;
    this.sink = sink;
    req.on('data', this.onData);
    req.on('end', this.onEnd);
    req.on('error', ignoreError); // a client gone mid-upload: the response's 'close' tells the runner
    if (req.readableEnded) this.onEnd();
    else req.resume();
  }

  pauseBody(): void {
    this.req.pause();
  }

  resumeBody(): void {
    this.req.resume();
  }

  stopBody(discard: boolean): void {
    const req = this.req;
    this.sink = null;
    req.removeListener('data', this.onData);
    req.removeListener('end', this.onEnd);
    if (discard) req.resume();
    else req.pause();
  }

  writeHead(status: number, reason: string, rawHeaders: string[]): void {
    if (reason === '') this.res.writeHead(status, rawHeaders as unknown as OutgoingHttpHeaders);
    else this.res.writeHead(status, reason, rawHeaders as unknown as OutgoingHttpHeaders);
    this.status = status;
  }

  write(chunk: Buffer): boolean {
    if (this.res.writableEnded || this.res.destroyed) return true;
    this.bytesSent += chunk.length;
    return this.res.write(chunk);
  }

  flushHead(): void {
    if (this.flushQueued) return;
    this.flushQueued = true;
    process.nextTick(flushHeadSoon, this);
  }

  end(trailers: readonly string[] | null): void {
    if (this.res.writableEnded) return;
    // node:http sends trailers only on a chunked response and silently drops them elsewhere.
    if (trailers !== null && trailers.length > 0) {
      const fields: Array<[string, string]> = [];
      for (let i = 0; i + 1 < trailers.length; i += 2) fields.push([trailers[i] as string, trailers[i + 1] as string]);
      this.res.addTrailers(fields);
    }
    this.res.end();
  }

  respond(status: number, headers: OutgoingHttpHeaders | readonly string[] | undefined, body: string | Uint8Array | undefined): void {
    if (this.res.headersSent) throw new Error('response headers were already sent');
    const buf = body === undefined ? undefined : typeof body === 'string' ? Buffer.from(body) : body;
    const raw = rawHeaderList(headers);
    let hasLength = false;
    for (let i = 0; i < raw.length; i += 2) {
      const n = raw[i] as string;
      if (n.length === 14 && n.toLowerCase() === 'content-length') hasLength = true;
    }
    if (!hasLength) raw.push('content-length', String(buf === undefined ? 0 : buf.length));
    this.res.writeHead(status, raw as unknown as OutgoingHttpHeaders);
    this.status = status;
    if (buf !== undefined && this.req.method !== 'HEAD') this.bytesSent += buf.length;
    this.res.end(buf);
  }

  closeAfterResponse(): void {
    if (!this.res.headersSent) this.res.shouldKeepAlive = false;
  }

  destroy(): void {
    this.res.destroy();
    this.req.socket?.destroy();
  }

  /** @internal The response closed: before it finished, the client went away. */
  closed(): void {
    if (this.res.writableFinished) return;
    this.events?.onDownstreamError(ProxyError.downstream('ClientGone', 'the client closed the connection'));
  }

  /** @internal */
  drained(): void {
    this.events?.onDownstreamDrain();
  }

  /** @internal Sends the head if still nothing else carried it (see `flushHead`). */
  flushNow(): void {
    this.flushQueued = false;
    if (this.bytesSent === 0 && !this.res.writableEnded && !this.res.destroyed) this.res.flushHeaders();
  }

  private readonly onData = (chunk: Buffer): void => {
    this.sink?.onBodyChunk(chunk);
  };

  private readonly onEnd = (): void => {
    const sink = this.sink;
    if (sink === null) return;
    this.stopBody(false);
    const trailers = this.req.rawTrailers;
    sink.onBodyEnd(trailers.length > 0 ? trailers : null);
  };
}

/** `headers` (an object or `[name, value, …]`) as a fresh `[name, value, …]` list of strings. */
export function rawHeaderList(headers: OutgoingHttpHeaders | readonly string[] | undefined): string[] {
  const raw: string[] = [];
  if (Array.isArray(headers)) {
    for (let i = 0; i + 1 < headers.length; i += 2) raw.push(String(headers[i]), String(headers[i + 1]));
  } else if (headers !== undefined) {
    const h = headers as OutgoingHttpHeaders;
    for (const name of Object.keys(h)) {
      const v = h[name];
      if (v === undefined) continue;
      if (Array.isArray(v)) for (const one of v) raw.push(name, String(one));
      else raw.push(name, String(v));
    }
  }
  return raw;
}

function onResponseClose(this: ServerResponse): void {
  (this as TaggedResponse)[kDownstream].closed();
}

function onResponseDrain(this: ServerResponse): void {
  (this as TaggedResponse)[kDownstream].drained();
}

function flushHeadSoon(d: NodeHttpSession): void {
  d.flushNow();
}

function ignoreError(): void {}
