// node:http / node:https with `agent: false`, not undici: every probe gets a connection of
// its own (nothing pooled, nothing shared with the proxy's or the user's connections), and
// this package keeps its one dependency (core); undici is only a peer of the /undici subpath.
import { request as httpRequest, type ClientRequest, type IncomingMessage, type RequestOptions } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { ProxyError } from '@pingora-ts/core';
import type { Backend } from '../backend';
import { abortedError, caList, connectErrorKind, connectErrorText, positiveInt, positiveMs, serverName, skipIdentity, type CaOption } from '../internal/check-support';
import type { HealthCheck } from './health-check';

/** Statuses from `min` to `max`, both included. */
export interface StatusRange {
  min: number;
  max: number;
}

export interface HttpHealthCheckOptions {
  /** Successes in a row that bring an unhealthy backend back. Default 1. */
  consecutiveSuccess?: number;
  /** Failures in a row that take a healthy backend out. Default 1. */
  consecutiveFailure?: number;
  /** Connect, request and response (head, and body when `expectBody` is set) must all fit in it. Default 1000 ms. */
  timeoutMs?: number;
  /** Default `GET`. */
  method?: string;
  /** The request target. Default `/`. */
  path?: string;
  /** The Host header (and the default SNI). Default: the backend's `host:port`. */
  host?: string;
  /** Extra request headers. */
  headers?: Readonly<Record<string, string>>;
  /** Healthy statuses: a range or a list. Default `{ min: 200, max: 399 }`. */
  expectStatus?: StatusRange | readonly number[];
  /** The body must contain this text, or match this RegExp (read as UTF-8, at most `maxBodyBytes`). */
  expectBody?: string | RegExp;
  /** Most body bytes read for `expectBody`. Default 65536. */
  maxBodyBytes?: number;
  /** Speak HTTPS to the backend. Default `false`. */
  tls?: boolean;
  /** With `tls`: the server name sent and checked. Default: `host` when set, else the backend's host when it is a name. */
  sni?: string;
  /** With `tls`: check the certificate (default `true`). */
  verify?: boolean;
  /** With `verify`: also check that the certificate names the server (default `true`); `false` checks the chain only. */
  verifyHostname?: boolean;
  /** With `tls`: CAs to trust instead of Node's defaults (PEM). */
  ca?: CaOption;
}

/**
 * A backend is healthy when it answers an HTTP request with an expected status (and, when
 * `expectBody` is set, a body that matches) within `timeoutMs`, over plain HTTP/1.1 or HTTPS.
 * Each probe opens its own connection and closes it (`Connection: close`); nothing is reused.
 *
 * A failed check rejects with a `ProxyError` from the upstream, `context` the address, and a
 * message that says which step failed:
 * - `ConnectRefused` / `ConnectError`: `HTTP health check of A: connection refused`;
 * - `ConnectTimedout` / `ReadTimedout`: `… timed out after 1000 ms connecting` / `waiting for the response`;
 * - `HTTPStatus` (its `status` is the backend's): `… status 503 outside 200-399`;
 * - `InvalidHTTPResponse`: `… body does not match /ready/ (read 12 bytes)`, or a broken response.
 */
export class HttpHealthCheck implements HealthCheck {
  readonly consecutiveSuccess: number;
  readonly consecutiveFailure: number;
  readonly timeoutMs: number;
  readonly method: string;
  readonly path: string;
  readonly tls: boolean;
  private readonly opts: HttpHealthCheckOptions;
  private readonly statusOk: (status: number) => boolean;
  private readonly statusText: string;
  private readonly maxBodyBytes: number;
  private readonly ca: (string | Buffer)[] | undefined;

  constructor(opts: HttpHealthCheckOptions = {}) {
    const owner = 'HttpHealthCheck';
    this.consecutiveSuccess = positiveInt(owner, 'consecutiveSuccess', opts.consecutiveSuccess ?? 1);
    this.consecutiveFailure = positiveInt(owner, 'consecutiveFailure', opts.consecutiveFailure ?? 1);
    this.timeoutMs = positiveMs(owner, 'timeoutMs', opts.timeoutMs ?? 1000);
    this.maxBodyBytes = positiveInt(owner, 'maxBodyBytes', opts.maxBodyBytes ?? 65536);
    this.method = (opts.method ?? 'GET').toUpperCase();
    this.path = opts.path ?? '/';
    if (!this.path.startsWith('/') && this.path !== '*') {
      throw ProxyError.internal('ConfigError', `${owner}: path must start with "/", got ${JSON.stringify(this.path)}`);
    }
    this.tls = opts.tls ?? false;
    this.ca = caList(opts.ca);
    this.opts = opts;
    const expect = opts.expectStatus ?? { min: 200, max: 399 };
    if (isStatusList(expect)) {
      if (expect.length === 0 || !expect.every(isStatus)) {
        throw ProxyError.internal('ConfigError', `${owner}: expectStatus must list statuses from 100 to 599, got ${JSON.stringify(expect)}`);
      }
      const set = new Set(expect);
      this.statusOk = (s) => set.has(s);
      this.statusText = `[${expect.join(', ')}]`;
    } else {
      const { min, max } = expect;
      if (!isStatus(min) || !isStatus(max) || min > max) {
        throw ProxyError.internal('ConfigError', `${owner}: expectStatus must be a range within 100-599 with min <= max, got ${min}-${max}`);
      }
      this.statusOk = (s) => s >= min && s <= max;
      this.statusText = `${min}-${max}`;
    }
  }

  healthThreshold(success: boolean): number {
    return success ? this.consecutiveSuccess : this.consecutiveFailure;
  }

  check(backend: Backend, signal?: AbortSignal): Promise<void> {
    const addr = backend.addr;
    const what = `HTTP health check of ${addr}`;
    return new Promise<void>((resolve, reject) => {
      if (signal?.aborted) return reject(abortedError('HTTP health check', addr));
      let settled = false;
      let step: 'connecting' | 'waiting for the response' | 'reading the body' = 'connecting';
      let res: IncomingMessage | null = null;
      const req: ClientRequest = this.send(backend);
      const finish = (err?: ProxyError): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        req.destroy();
        res?.destroy();
        if (err) reject(err);
        else resolve();
      };
      const onAbort = (): void => finish(abortedError('HTTP health check', addr));
      const timer = setTimeout(() => {
        const kind = step === 'connecting' ? 'ConnectTimedout' : 'ReadTimedout';
        finish(ProxyError.upstream(kind, `${what} timed out after ${this.timeoutMs} ms ${step}`, undefined, addr));
      }, this.timeoutMs);
      req.once('socket', (socket) => {
        // https emits 'secureConnect' after 'connect'; either way the request is on its way after it.
        socket.once(this.tls ? 'secureConnect' : 'connect', () => {
          if (step === 'connecting') step = 'waiting for the response';
        });
      });
      req.on('error', (e: NodeJS.ErrnoException) => {
        if (step === 'connecting') {
          const kind = this.tls && e.code !== 'ECONNREFUSED' && e.code !== 'ETIMEDOUT' ? 'ConnectError' : connectErrorKind(e.code);
          return finish(ProxyError.upstream(kind, `${what} failed: ${connectErrorText(e)}`, e, addr));
        }
        finish(ProxyError.upstream('InvalidHTTPResponse', `${what} failed ${step}: ${connectErrorText(e)}`, e, addr));
      });
      req.once('response', (r: IncomingMessage) => {
        res = r;
        r.on('error', () => {}); // destroyed by finish; the outcome is already decided
        const status = r.statusCode ?? 0;
        if (!this.statusOk(status)) {
          const err = new ProxyError(`${what}: status ${status} outside ${this.statusText}`, { kind: 'HTTPStatus', source: 'upstream', status, context: addr });
          return finish(err);
        }
        const expect = this.opts.expectBody;
        if (expect === undefined) return finish();
        step = 'reading the body';
        this.matchBody(r, expect, (matched, read, error) => {
          if (error) return finish(ProxyError.upstream('InvalidHTTPResponse', `${what} failed reading the body: ${error.message}`, error, addr));
          if (matched) return finish();
          const shown = typeof expect === 'string' ? JSON.stringify(expect) : String(expect);
          finish(ProxyError.upstream('InvalidHTTPResponse', `${what}: body does not match ${shown} (read ${read} bytes)`, undefined, addr));
        });
      });
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  private send(backend: Backend): ClientRequest {
    const o = this.opts;
    const headers: Record<string, string> = { ...o.headers, connection: 'close' };
    if (o.host !== undefined) headers.host = o.host;
    const options: RequestOptions = { host: backend.host, port: backend.port, method: this.method, path: this.path, headers, agent: false };
    if (!this.tls) {
      const req = httpRequest(options);
      req.end();
      return req;
    }
    const servername = serverName(o.sni ?? hostName(o.host), backend.host);
    const req = httpsRequest({
      ...options,
      rejectUnauthorized: o.verify ?? true,
      ...(o.verifyHostname === false ? { checkServerIdentity: skipIdentity } : {}),
      // `servername: ''` turns SNI off (node:https would otherwise send the IP from `host`).
      servername: servername ?? '',
      ...(this.ca === undefined ? {} : { ca: this.ca }),
    });
    req.end();
    return req;
  }

  /**
   * Reads the body up to `maxBodyBytes` and calls `done(matched, bytesRead)`; a string match
   * stops reading as soon as it is seen.
   */
  private matchBody(res: IncomingMessage, expect: string | RegExp, done: (matched: boolean, read: number, error?: Error) => void): void {
    const chunks: Buffer[] = [];
    let read = 0;
    let over = false;
    const test = (): boolean => {
      const text = Buffer.concat(chunks).toString('utf8');
      if (typeof expect === 'string') return text.includes(expect);
      expect.lastIndex = 0; // a /g or /y RegExp keeps state between calls
      return expect.test(text);
    };
    res.on('data', (chunk: Buffer) => {
      if (over) return;
      const room = this.maxBodyBytes - read;
      chunks.push(chunk.length > room ? chunk.subarray(0, room) : chunk);
      read += Math.min(chunk.length, room);
      if (typeof expect === 'string' && test()) {
        over = true;
        return done(true, read);
      }
      if (read >= this.maxBodyBytes) {
        over = true;
        done(test(), read);
      }
    });
    res.once('end', () => {
      if (over) return;
      over = true;
      done(test(), read);
    });
    res.once('close', () => {
      if (over) return;
      over = true;
      if (res.complete) done(test(), read);
      else done(false, read, new Error('the response was cut short'));
    });
  }
}

function isStatus(n: number): boolean {
  return Number.isInteger(n) && n >= 100 && n <= 599;
}

function isStatusList(e: StatusRange | readonly number[]): e is readonly number[] {
  return Array.isArray(e);
}

/** The name in a Host header value (`api.example:8443` → `api.example`), for the default SNI. */
function hostName(host: string | undefined): string | undefined {
  if (host === undefined) return undefined;
  if (host.startsWith('[')) return undefined; // an IPv6 literal: no SNI
  const colon = host.lastIndexOf(':');
  return colon < 0 ? host : host.slice(0, colon);
}
