/**
 * The downstream side of one request: node:http's request and response behind the few
 * operations the proxy needs, so a leaner HTTP/1 server can replace node:http later without
 * touching the hook runner. Counts the status and body bytes sent.
 */
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';

/** Told when the downstream socket can take more data (implemented by the request runner). */
export interface DrainListener {
  onDownstreamDrain(): void;
}

export class Downstream {
  /** Status sent downstream; 0 until the head is written. */
  status = 0;
  /** Response body bytes written downstream. */
  bytesSent = 0;
  private drainListener: DrainListener | null = null;
  private drainHooked = false;

  constructor(
    readonly req: IncomingMessage,
    readonly res: ServerResponse,
  ) {}

  get method(): string {
    return this.req.method as string;
  }

  /** The raw request target. */
  get target(): string {
    return this.req.url as string;
  }

  get rawHeaders(): string[] {
    return this.req.rawHeaders;
  }

  get headersSent(): boolean {
    return this.res.headersSent;
  }

  /** The response was ended (all of it handed to the socket or queued). */
  get ended(): boolean {
    return this.res.writableEnded;
  }

  /** The connection is gone (closed or destroyed). */
  get gone(): boolean {
    const s = this.req.socket;
    return s === null || s.destroyed;
  }

  /** The client's IP (IPv4-mapped IPv6 shown as plain IPv4). */
  clientIp(): string {
    const a = this.req.socket.remoteAddress ?? '';
    return a.startsWith('::ffff:') && a.indexOf('.') > 0 ? a.slice(7) : a;
  }

  clientPort(): number {
    return this.req.socket.remotePort ?? 0;
  }

  /** Writes the response head; `rawHeaders` is `[name, value, …]`. */
  writeHead(status: number, reason: string, rawHeaders: string[]): void {
    if (reason === '') this.res.writeHead(status, rawHeaders as unknown as OutgoingHttpHeaders);
    else this.res.writeHead(status, reason, rawHeaders as unknown as OutgoingHttpHeaders);
    this.status = status;
  }

  /** Writes body bytes; `false` means wait for `onDownstreamDrain`. */
  write(chunk: Buffer): boolean {
    if (this.res.writableEnded || this.res.destroyed) return true;
    this.bytesSent += chunk.length;
    return this.res.write(chunk);
  }

  /** Calls `listener.onDownstreamDrain()` on the next drain. */
  onDrain(listener: DrainListener): void {
    this.drainListener = listener;
    if (!this.drainHooked) {
      this.drainHooked = true;
      this.res.on('drain', this.emitDrain);
    }
  }

  /** Sends the response head now instead of with the first body bytes. */
  flushHead(): void {
    if (!this.res.writableEnded && !this.res.destroyed) this.res.flushHeaders();
  }

  end(): void {
    if (!this.res.writableEnded) this.res.end();
  }

  /** A complete response in one go; `Content-Length` is set from `body` unless given. */
  respond(status: number, headers: OutgoingHttpHeaders | readonly string[] | undefined, body: string | Uint8Array | undefined): void {
    if (this.res.headersSent) throw new Error('response headers were already sent');
    const buf = body === undefined ? undefined : typeof body === 'string' ? Buffer.from(body) : body;
    const raw: string[] = [];
    let hasLength = false;
    if (Array.isArray(headers)) {
      for (let i = 0; i + 1 < headers.length; i += 2) raw.push(String(headers[i]), String(headers[i + 1]));
    } else if (headers !== undefined) {
      for (const name of Object.keys(headers)) {
        const v = (headers as OutgoingHttpHeaders)[name];
        if (v === undefined) continue;
        if (Array.isArray(v)) for (const one of v) raw.push(name, String(one));
        else raw.push(name, String(v));
      }
    }
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

  /** Asks node:http to close the connection after this response (`Connection: close`). */
  closeAfterResponse(): void {
    if (!this.res.headersSent) this.res.shouldKeepAlive = false;
  }

  /** Drops the connection now (both directions). */
  destroy(): void {
    this.res.destroy();
    this.req.socket?.destroy();
  }

  private readonly emitDrain = (): void => {
    this.drainListener?.onDownstreamDrain();
  };
}
