import { connect, type ClientHttp2Session, type ClientHttp2Stream, type IncomingHttpHeaders, type SecureClientSessionOptions } from 'node:http2';
import { ProxyError } from '@pingora-ts/core';
import type { Backend } from '../backend';
import { abortedError, caList, connectErrorKind, connectErrorText, positiveInt, positiveMs, serverName, skipIdentity, type CaOption } from '../internal/check-support';
import type { HealthCheck } from './health-check';

export interface GrpcHealthCheckOptions {
  /** Successes in a row that bring an unhealthy backend back. Default 1. */
  consecutiveSuccess?: number;
  /** Failures in a row that take a healthy backend out. Default 1. */
  consecutiveFailure?: number;
  /** Connect, call and answer must fit in it (also sent as `grpc-timeout`). Default 1000 ms. */
  timeoutMs?: number;
  /** The service asked about (`HealthCheckRequest.service`); `''` (default): the server as a whole. */
  service?: string;
  /** Speak TLS (ALPN h2) instead of h2c with prior knowledge. Default `false`. */
  tls?: boolean;
  /** With `tls`: the server name sent and checked. Default: the backend's host when it is a name. */
  sni?: string;
  /** With `tls`: check the certificate (default `true`). */
  verify?: boolean;
  /** With `verify`: also check that the certificate names the server (default `true`); `false` checks the chain only. */
  verifyHostname?: boolean;
  /** With `tls`: CAs to trust instead of Node's defaults (PEM). */
  ca?: CaOption;
}

/** `HealthCheckResponse.ServingStatus` (grpc/health/v1/health.proto). */
const SERVING_STATUS = ['UNKNOWN', 'SERVING', 'NOT_SERVING', 'SERVICE_UNKNOWN'] as const;
const SERVING = 1;
/** gRPC status codes, for messages. */
const GRPC_CODES = [
  'OK', 'CANCELLED', 'UNKNOWN', 'INVALID_ARGUMENT', 'DEADLINE_EXCEEDED', 'NOT_FOUND', 'ALREADY_EXISTS', 'PERMISSION_DENIED',
  'RESOURCE_EXHAUSTED', 'FAILED_PRECONDITION', 'ABORTED', 'OUT_OF_RANGE', 'UNIMPLEMENTED', 'INTERNAL', 'UNAVAILABLE', 'DATA_LOSS', 'UNAUTHENTICATED',
];
/** A health answer is a few bytes; more than this is not one. */
const MAX_RESPONSE_BYTES = 16 * 1024;

/**
 * The standard gRPC health check: a unary `grpc.health.v1.Health/Check` call asking about
 * `service`, over h2c or TLS, spoken with node:http2 directly (the two tiny messages are
 * encoded by hand, so no gRPC library is needed). The backend is healthy when the call ends
 * with `grpc-status: 0` and the answer says `SERVING`. Each probe opens its own HTTP/2
 * connection and closes it.
 *
 * A failed check rejects with a `ProxyError` from the upstream (`context`: the address):
 * `ConnectRefused` / `ConnectTimedout` / `ConnectError` when no connection could be made,
 * `ReadTimedout` when no answer came in time, `HTTPStatus` when the `:status` is not 200, and
 * `InvalidHTTPResponse` for a non-zero `grpc-status` (e.g. `5 (NOT_FOUND)` for an unknown
 * service), a status other than `SERVING` (`NOT_SERVING`), or a malformed answer.
 */
export class GrpcHealthCheck implements HealthCheck {
  readonly consecutiveSuccess: number;
  readonly consecutiveFailure: number;
  readonly timeoutMs: number;
  readonly service: string;
  readonly tls: boolean;
  private readonly opts: GrpcHealthCheckOptions;
  /** The request message, framed: made once. */
  private readonly body: Buffer;

  constructor(opts: GrpcHealthCheckOptions = {}) {
    const owner = 'GrpcHealthCheck';
    this.consecutiveSuccess = positiveInt(owner, 'consecutiveSuccess', opts.consecutiveSuccess ?? 1);
    this.consecutiveFailure = positiveInt(owner, 'consecutiveFailure', opts.consecutiveFailure ?? 1);
    this.timeoutMs = positiveMs(owner, 'timeoutMs', opts.timeoutMs ?? 1000);
    this.service = opts.service ?? '';
    this.tls = opts.tls ?? false;
    this.opts = opts;
    this.body = frame(encodeHealthCheckRequest(this.service));
  }

  healthThreshold(success: boolean): number {
    return success ? this.consecutiveSuccess : this.consecutiveFailure;
  }

  check(backend: Backend, signal?: AbortSignal): Promise<void> {
    const addr = backend.addr;
    const what = `gRPC health check of ${addr}${this.service === '' ? '' : ` (service "${this.service}")`}`;
    return new Promise<void>((resolve, reject) => {
      if (signal?.aborted) return reject(abortedError('gRPC health check', addr));
      let settled = false;
      let connected = false;
      let stream: ClientHttp2Stream | null = null;
      const session = this.connect(backend);
      const finish = (err?: ProxyError): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        stream?.destroy();
        session.destroy();
        if (err) reject(err);
        else resolve();
      };
      const fail = (kind: 'InvalidHTTPResponse' | 'ReadTimedout', message: string, cause?: unknown): void =>
        finish(ProxyError.upstream(kind, `${what}: ${message}`, cause, addr));
      const onAbort = (): void => finish(abortedError('gRPC health check', addr));
      const timer = setTimeout(() => {
        if (!connected) finish(ProxyError.upstream('ConnectTimedout', `${what} timed out after ${this.timeoutMs} ms connecting`, undefined, addr));
        else fail('ReadTimedout', `timed out after ${this.timeoutMs} ms waiting for the answer`);
      }, this.timeoutMs);
      // `on`, not `once`: a late error after `finish` must still have a listener.
      // Before the connection is up, the stream and the session report the same failure (the stream first).
      const connectFailed = (e: NodeJS.ErrnoException): void => {
        const kind = this.tls && e.code !== 'ECONNREFUSED' ? 'ConnectError' : connectErrorKind(e.code);
        finish(ProxyError.upstream(kind, `${what} failed: ${connectErrorText(e)}`, e, addr));
      };
      session.on('error', (e: NodeJS.ErrnoException) => {
        if (!connected) return connectFailed(e);
        fail('InvalidHTTPResponse', `connection failed: ${connectErrorText(e)}`, e);
      });
      session.once('connect', () => (connected = true));
      session.once('close', () => fail('InvalidHTTPResponse', 'the connection closed before the answer'));

      const s = session.request(
        {
          ':method': 'POST',
          ':path': '/grpc.health.v1.Health/Check',
          'content-type': 'application/grpc',
          te: 'trailers',
          'grpc-timeout': `${Math.ceil(this.timeoutMs)}m`,
        },
        { endStream: false },
      );
      stream = s;
      s.end(this.body);
      const chunks: Buffer[] = [];
      let size = 0;
      let head: IncomingHttpHeaders | null = null;
      let trailers: IncomingHttpHeaders | null = null;
      s.on('error', (e: NodeJS.ErrnoException) => {
        // ERR_HTTP2_STREAM_CANCEL, caused by the connect error.
        if (!connected) return connectFailed(isErrno(e.cause) ? e.cause : e);
        fail('InvalidHTTPResponse', `the call failed: ${connectErrorText(e)}`, e);
      });
      s.once('response', (headers) => {
        head = headers;
        const status = Number(headers[':status']);
        if (status !== 200) {
          finish(new ProxyError(`${what}: HTTP status ${status}, expected 200`, { kind: 'HTTPStatus', source: 'upstream', status, context: addr }));
        }
      });
      s.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > MAX_RESPONSE_BYTES) return fail('InvalidHTTPResponse', `answer larger than ${MAX_RESPONSE_BYTES} bytes`);
        chunks.push(chunk);
      });
      s.once('trailers', (t) => (trailers = t));
      s.once('end', () => {
        // Trailers-Only: a call that fails at once puts grpc-status in the response head.
        const t: IncomingHttpHeaders = trailers ?? head ?? {};
        const code = t['grpc-status'];
        if (code === undefined) return fail('InvalidHTTPResponse', 'the answer has no grpc-status');
        if (code !== '0') {
          const n = Number(code);
          const name = GRPC_CODES[n] ?? 'unknown code';
          const message = grpcMessage(t['grpc-message']);
          return fail('InvalidHTTPResponse', `grpc-status ${code} (${name})${message ? `: ${message}` : ''}`);
        }
        const status = decodeHealthCheckResponse(Buffer.concat(chunks));
        if (typeof status === 'string') return fail('InvalidHTTPResponse', status);
        if (status !== SERVING) return fail('InvalidHTTPResponse', `status ${SERVING_STATUS[status] ?? status}, expected SERVING`);
        finish();
      });
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  private connect(backend: Backend): ClientHttp2Session {
    if (!this.tls) return connect(`http://${backend.addr}`);
    const o = this.opts;
    const servername = serverName(o.sni, backend.host);
    const ca = caList(o.ca);
    const options: SecureClientSessionOptions = {
      rejectUnauthorized: o.verify ?? true,
      ...(o.verifyHostname === false ? { checkServerIdentity: skipIdentity } : {}),
      ...(servername === undefined ? {} : { servername }),
      ...(ca === undefined ? {} : { ca }),
    };
    return connect(`https://${backend.addr}`, options);
  }
}

/** `HealthCheckRequest { string service = 1; }`: tag 0x0a, length, bytes (nothing for ''). */
export function encodeHealthCheckRequest(service: string): Buffer {
  const name = Buffer.from(service, 'utf8');
  if (name.length === 0) return Buffer.alloc(0);
  return Buffer.concat([Buffer.from([0x0a]), varint(name.length), name]);
}

/**
 * The `status` of a framed `HealthCheckResponse { ServingStatus status = 1; }` (0 when absent,
 * as proto3 says), or a string saying what is wrong with it. Unknown fields are skipped.
 */
export function decodeHealthCheckResponse(data: Buffer): number | string {
  if (data.length < 5) return `answer of ${data.length} bytes is not a gRPC message`;
  if (data[0] !== 0) return 'answer is compressed (none was asked for)';
  const len = data.readUInt32BE(1);
  if (data.length !== 5 + len) return `answer holds ${data.length - 5} bytes, its frame says ${len}`;
  let status = 0;
  let i = 5;
  while (i < data.length) {
    const tag = readVarint(data, i);
    if (tag === null) return 'malformed answer';
    i = tag.next;
    const field = Math.floor(tag.value / 8);
    const wire = tag.value % 8;
    if (wire === 0) {
      const v = readVarint(data, i);
      if (v === null) return 'malformed answer';
      i = v.next;
      if (field === 1) status = v.value;
    } else if (wire === 2) {
      const l = readVarint(data, i);
      if (l === null || l.next + l.value > data.length) return 'malformed answer';
      i = l.next + l.value;
    } else if (wire === 1) i += 8;
    else if (wire === 5) i += 4;
    else return 'malformed answer';
  }
  if (i !== data.length) return 'malformed answer';
  return status;
}

/** The gRPC length-prefixed message: flag 0 (not compressed), 4-byte big-endian length, message. */
function frame(message: Buffer): Buffer {
  const out = Buffer.alloc(5 + message.length);
  out.writeUInt32BE(message.length, 1);
  message.copy(out, 5);
  return out;
}

function varint(n: number): Buffer {
  const bytes: number[] = [];
  while (n >= 0x80) {
    bytes.push((n % 0x80) | 0x80);
    n = Math.floor(n / 0x80);
  }
  bytes.push(n);
  return Buffer.from(bytes);
}

/** A varint of up to 7 bytes (plenty for tags, lengths and enums), or `null` when cut short. */
function readVarint(data: Buffer, at: number): { value: number; next: number } | null {
  let value = 0;
  let mul = 1;
  for (let i = at; i < data.length && i < at + 7; i++) {
    const b = data[i]!;
    value += (b & 0x7f) * mul;
    if (b < 0x80) return { value, next: i + 1 };
    mul *= 0x80;
  }
  return null;
}

/** An errno error (duck-typed: `instanceof Error` fails across realms, e.g. under jest). */
function isErrno(v: unknown): v is NodeJS.ErrnoException {
  return typeof v === 'object' && v !== null && typeof (v as { code?: unknown }).code === 'string' && typeof (v as { message?: unknown }).message === 'string';
}

function grpcMessage(v: string | string[] | undefined): string {
  const s = Array.isArray(v) ? v[0] : v;
  if (!s) return '';
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}
