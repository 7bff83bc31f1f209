/**
 * `BackgroundDownstream`: the downstream of a background revalidation (`stale-while-revalidate`:
 * the client already got the stale response; one request refreshes the entry meanwhile), as
 * Pingora runs it as a subrequest. It carries a copy of the triggering request's head, has no
 * body, and drops whatever response is written to it: only the cache fill or freshening counts.
 */
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';
import type { DownstreamEvents, DownstreamSession } from '../downstream/downstream-session';
import { headersObject } from '../downstream/headers-object';
import type { BodySink } from '../flow/body-sink';
import type { DownstreamAccess } from '../session';

export class BackgroundDownstream implements DownstreamSession {
  readonly method = 'GET';
  readonly target: string;
  readonly rawHeaders: string[];
  readonly httpVersion: string;
  readonly unframedBody = false;
  readonly scheme: 'http' | 'https';
  status = 0;
  bytesSent = 0;
  headersSent = false;
  readonly gone = false;
  private readonly ip: string;
  private readonly port: number;
  private headerObject: IncomingHttpHeaders | null = null;

  /** A copy of `from`'s request head (a GET, whatever `from` asked: a HEAD refreshes the stored GET too). */
  constructor(from: DownstreamSession) {
    this.target = from.target;
    this.rawHeaders = from.rawHeaders.slice();
    this.httpVersion = from.httpVersion;
    this.scheme = from.scheme;
    this.ip = from.clientIp();
    this.port = from.clientPort();
  }

  get headers(): IncomingHttpHeaders {
    return (this.headerObject ??= headersObject(this.rawHeaders));
  }

  get access(): DownstreamAccess {
    throw new TypeError('session.downstream does not exist for a background cache revalidation');
  }

  clientIp(): string {
    return this.ip;
  }

  clientPort(): number {
    return this.port;
  }

  setEvents(_events: DownstreamEvents): void {}

  readBody(sink: BodySink): void {
    sink.onBodyEnd(null);
  }

  stopBody(): void {}
  pauseBody(): void {}
  resumeBody(): void {}

  writeHead(status: number): void {
    this.status = status;
    this.headersSent = true;
  }

  write(chunk: Buffer): boolean {
    this.bytesSent += chunk.length;
    return true;
  }

  end(): void {}
  flushHead(): void {}

  respond(status: number, _headers: OutgoingHttpHeaders | readonly string[] | undefined, _body: string | Uint8Array | undefined): void {
    this.writeHead(status);
  }

  closeAfterResponse(): void {}
  destroy(): void {}
}
