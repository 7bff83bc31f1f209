/**
 * `ConnectionPool.request()`: one request whose whole response is collected in memory.
 * For small bodies only (health checks, scripts, tests).
 */
import type { ProxyError } from '@pingora-ts/core';
import type { ConnectionPool } from './connection-pool';
import type { HttpConnection, ResponseHandler } from './http-connection';
import type { PeerLike } from './peer-like';

export interface PoolRequestOptions {
  /** Default `'GET'`. */
  method?: string;
  /** Request target. Default `'/'`. */
  path?: string;
  /** Headers as an object or `[name, value, …]`. `Host` defaults to the peer address. */
  headers?: Record<string, string> | readonly string[];
  /** The whole body; `Content-Length` is set from it. */
  body?: string | Buffer;
}

export interface PoolResponse {
  status: number;
  reason: string;
  /** `[name, value, …]` as received. */
  rawHeaders: string[];
  body: Buffer;
  /** Whether the request went over a reused connection. */
  reused: boolean;
}

export class BufferedRequest implements ResponseHandler {
  private status = 0;
  private reason = '';
  private rawHeaders: string[] = [];
  private readonly chunks: Buffer[] = [];
  private resolve!: (res: PoolResponse) => void;
  private reject!: (err: ProxyError) => void;

  constructor(
    private readonly pool: ConnectionPool,
    private readonly conn: HttpConnection,
    private readonly peer: PeerLike,
    private readonly opts: PoolRequestOptions,
  ) {}

  send(): Promise<PoolResponse> {
    const { opts, conn } = this;
    const raw: string[] = [];
    let hasHost = false;
    const h = opts.headers;
    if (Array.isArray(h)) {
      for (let i = 0; i + 1 < h.length; i += 2) raw.push(String(h[i]), String(h[i + 1]));
    } else if (h !== undefined) {
      for (const [k, v] of Object.entries(h as Record<string, string>)) raw.push(k, v);
    }
    for (let i = 0; i < raw.length; i += 2) {
      const lower = (raw[i] as string).toLowerCase();
      if (lower === 'host') hasHost = true;
      if (lower === 'content-length' || lower === 'transfer-encoding') throw new TypeError(`set the body, not the "${raw[i]}" header`);
    }
    if (!hasHost) raw.unshift('host', this.peer.address);
    const body = opts.body === undefined ? null : typeof opts.body === 'string' ? Buffer.from(opts.body) : opts.body;
    if (body !== null) raw.push('content-length', String(body.length));
    const promise = new Promise<PoolResponse>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
    conn.request(opts.method ?? 'GET', opts.path ?? '/', raw, this, {
      body: body === null ? 'none' : 'content-length',
      readTimeoutMs: 0,
      writeTimeoutMs: 0,
    });
    if (body !== null) {
      conn.writeBody(body);
      conn.endBody();
    }
    return promise;
  }

  onResponseHead(status: number, reason: string, rawHeaders: string[]): void {
    this.status = status;
    this.reason = reason;
    this.rawHeaders = rawHeaders;
  }

  onResponseData(chunk: Buffer): void {
    this.chunks.push(Buffer.from(chunk));
  }

  onResponseEnd(): void {
    const reused = this.conn.reused;
    this.pool.release(this.conn);
    this.resolve({ status: this.status, reason: this.reason, rawHeaders: this.rawHeaders, body: Buffer.concat(this.chunks), reused });
  }

  onResponseError(err: ProxyError): void {
    this.pool.release(this.conn);
    this.reject(err);
  }

  onRequestDrain(): void {}
}
