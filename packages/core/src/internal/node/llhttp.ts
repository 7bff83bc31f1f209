/**
 * The only module that touches this Node internal: the HTTP/1 parser node:http itself uses
 * (llhttp, `HTTPParser` from `node:_http_common`), in strict mode (no lenient flags).
 *
 * It is checked once, at load: the module must exist, have the shape this file relies on, and
 * parse a known request (a pipelined pair with a body, paused after the second head) and
 * refuse a known smuggling attempt exactly as expected. If anything differs (a future Node
 * changed the internal), `llhttp` is `null`, `llhttpUnavailable` says why, and the proxy falls
 * back to its node:http downstream. Nothing else in pingora-ts may import `_http_common`; other
 * packages reach this module through `@pingora-ts/core/internal`.
 *
 * Parsers hold about 2.8 KB of native memory each, so they are lent to busy connections from a
 * free list (`RequestParserPool`) instead of living as long as a keep-alive connection.
 */

/** What a request parser reports to (the connection it is lent to). */
export interface RequestParserHandler {
  /**
   * A request head is complete. Returns `READ_BODY` or `NO_BODY` (a request without body: its
   * end is not reported, which saves llhttp a call into JS per request), plus `PAUSE` to stop
   * the parser right after this head (`execute` then returns a `ParseFailure` with code
   * `HPE_PAUSED`).
   */
  onRequestHead(method: string, target: string, rawHeaders: string[], versionMajor: number, versionMinor: number, keepAlive: boolean): number;
  /** One piece of the request body (a copy the handler may keep), **not the whole body**. */
  onRequestBody(chunk: Buffer): void;
  /**
   * The request message (head and body) is complete (not called after `NO_BODY`); `trailers`
   * are the trailer fields of a chunked body (`[name, value, …]`), or null when it had none.
   */
  onRequestComplete(trailers: string[] | null): void;
}

/** `execute` stopped: a parse error (`HPE_*` code), or `HPE_PAUSED` after `PAUSE`. */
export interface ParseFailure {
  readonly code: string;
  readonly reason: string;
  /** Bytes of the buffer consumed before the stop. */
  readonly bytesParsed: number;
}

/** A parser lent to one connection. */
export interface RequestParser {
  /**
   * Parses `buf`, calling the handler. Returns the bytes consumed (less than `buf.length` only
   * after an `Upgrade` request, whose head ends the parse of this buffer), or a `ParseFailure`.
   */
  execute(buf: Buffer): number | ParseFailure;
  /** Lets a parser stopped by `PAUSE` go on with the next `execute`. */
  resume(): void;
}

/** `onRequestHead` result: go on; body chunks and the end of the request are reported. */
export const READ_BODY = 0;
/** `onRequestHead` result: go on; the request has no body and its end is not reported. */
export const NO_BODY = 1;
/** Add to the `onRequestHead` result to stop the parser after this head (llhttp's `HPE_PAUSED`). */
export const PAUSE = 2;

/** llhttp's `HPE_PAUSED`, as an `on_headers_complete` return value. */
const HPE_PAUSED = 21;

/** The native parser object (`HTTPParser` instance) with the fields this module adds. */
interface NativeParser extends RequestParser {
  initialize(type: number, resource: object, maxHeaderSize: number, lenientFlags: number): void;
  free(): void;
  close(): void;
  [callback: number]: unknown;
  handler: RequestParserHandler | null;
  /** Header fields and target flushed early by llhttp (more than 32 fields), until the head completes. */
  headersSoFar: string[];
  targetSoFar: string;
}

interface NativeParserClass {
  new (): NativeParser;
  readonly REQUEST: number;
  readonly kOnHeaders: number;
  readonly kOnHeadersComplete: number;
  readonly kOnBody: number;
  readonly kOnMessageComplete: number;
  readonly kLenientNone: number;
}

interface HttpCommon {
  HTTPParser: NativeParserClass;
  methods: readonly string[];
}

/** The loaded parser: its version and how to make parsers. */
export interface Llhttp {
  /** e.g. `"llhttp 9.3.1"`. */
  readonly version: string;
  /** A free list of request parsers with this head size limit. */
  parserPool(maxHeaderSize: number): RequestParserPool;
}

// One shared async resource: a parser kept in the free list must not hold on to a socket.
const ASYNC_RESOURCE = {};

let common: HttpCommon | null = null;
/** `HTTPParser.kOnMessageComplete`, once loaded. */
let kMessageComplete = -1;

/** Field flush for heads of more than 32 fields: kept until the head completes. */
function onHeaders(this: NativeParser, fields: string[], target: string): void {
  for (let i = 0; i < fields.length; i++) this.headersSoFar.push(fields[i] as string);
  this.targetSoFar += target;
}

function onHeadersComplete(
  this: NativeParser,
  versionMajor: number,
  versionMinor: number,
  fields: string[] | undefined,
  method: number,
  target: string | undefined,
  _status: number,
  _statusMessage: string,
  _upgrade: boolean,
  keepAlive: boolean,
): number {
  let raw = fields;
  let url = target;
  if (raw === undefined) {
    raw = this.headersSoFar;
    this.headersSoFar = [];
  }
  if (url === undefined) {
    url = this.targetSoFar;
    this.targetSoFar = '';
  }
  const handler = this.handler;
  if (handler === null) return 0;
  const r = handler.onRequestHead((common as HttpCommon).methods[method] as string, url, raw, versionMajor, versionMinor, keepAlive);
  // llhttp looks the completion callback up when the message ends: none, no call into JS.
  this[kMessageComplete] = (r & NO_BODY) === 0 ? onMessageComplete : undefined;
  return (r & PAUSE) === 0 ? 0 : HPE_PAUSED;
}

function onBody(this: NativeParser, chunk: Buffer): void {
  this.handler?.onRequestBody(chunk);
}

function onMessageComplete(this: NativeParser): void {
  // llhttp flushes a chunked body's trailer fields through kOnHeaders just before this call.
  const trailers = this.headersSoFar;
  if (trailers.length > 0) {
    this.headersSoFar = [];
    this.targetSoFar = '';
  }
  this.handler?.onRequestComplete(trailers.length > 0 ? trailers : null);
}

/** Request parsers with one head size limit, lent to connections and taken back when idle. */
export class RequestParserPool {
  private readonly free: NativeParser[] = [];
  private lent = 0;

  constructor(
    private readonly cls: NativeParserClass,
    private readonly maxHeaderSize: number,
    /** Most idle parsers kept; more are closed. */
    private readonly keep: number,
  ) {}

  /**
   * More parsers are lent than the free list keeps: connections going idle should give theirs
   * back at once (many idle keep-alive connections must not each hold 2.8 KB of parser).
   */
  get crowded(): boolean {
    return this.lent > this.keep;
  }

  /** A parser at the start of a message, reporting to `handler`. */
  take(handler: RequestParserHandler): RequestParser {
    this.lent++;
    const p = this.free.pop() ?? this.create();
    p.initialize(this.cls.REQUEST, ASYNC_RESOURCE, this.maxHeaderSize, this.cls.kLenientNone);
    p.handler = handler;
    return p;
  }

  /** Takes a parser back. Never call it from inside that parser's `execute`. */
  give(parser: RequestParser): void {
    this.lent--;
    const p = parser as NativeParser;
    p.handler = null;
    p.headersSoFar = [];
    p.targetSoFar = '';
    if (this.free.length < this.keep) {
      p.free();
      this.free.push(p);
    } else {
      p.close();
    }
  }

  private create(): NativeParser {
    const p = new this.cls();
    p.handler = null;
    p.headersSoFar = [];
    p.targetSoFar = '';
    p[this.cls.kOnHeaders] = onHeaders;
    p[this.cls.kOnHeadersComplete] = onHeadersComplete;
    p[this.cls.kOnBody] = onBody;
    p[this.cls.kOnMessageComplete] = onMessageComplete;
    return p;
  }
}

/** Loads `node:_http_common` and checks it; returns the reason it cannot be used, or null. */
function load(): string | null {
  const getBuiltin = (process as { getBuiltinModule?: (id: string) => unknown }).getBuiltinModule;
  if (typeof getBuiltin !== 'function') return 'process.getBuiltinModule is missing';
  let mod: unknown;
  try {
    mod = getBuiltin('node:_http_common');
  } catch (err) {
    return `node:_http_common failed to load: ${(err as Error).message}`;
  }
  const m = mod as Partial<HttpCommon> | undefined;
  const cls = m?.HTTPParser;
  if (typeof cls !== 'function' || !Array.isArray(m?.methods)) return 'node:_http_common has no HTTPParser or methods';
  for (const k of ['REQUEST', 'kOnHeaders', 'kOnHeadersComplete', 'kOnBody', 'kOnMessageComplete', 'kLenientNone'] as const) {
    if (typeof cls[k] !== 'number') return `HTTPParser.${k} is not a number`;
  }
  for (const k of ['initialize', 'execute', 'resume', 'free', 'close'] as const) {
    if (typeof (cls.prototype as unknown as Record<string, unknown>)[k] !== 'function') return `HTTPParser.prototype.${k} is missing`;
  }
  common = m as HttpCommon;
  kMessageComplete = cls.kOnMessageComplete;
  try {
    return selfTest(new RequestParserPool(cls, 8192, 1));
  } catch (err) {
    return `HTTPParser self-test threw: ${(err as Error).message}`;
  }
}

/**
 * Parses three pipelined requests (one with a body, two without whose end is not reported;
 * paused after the second head, then resumed) and a request with both Content-Length and
 * Transfer-Encoding, and checks every callback argument and result.
 */
function selfTest(pool: RequestParserPool): string | null {
  const seen: string[] = [];
  const handler: RequestParserHandler = {
    onRequestHead(method, target, raw, major, minor, keepAlive) {
      seen.push(`head ${method} ${target} ${raw.join(',')} ${major}.${minor} ${String(keepAlive)}`);
      if (target === '/b') return NO_BODY + PAUSE;
      return target === '/c' ? NO_BODY : READ_BODY;
    },
    onRequestBody(chunk) {
      seen.push(`body ${Buffer.isBuffer(chunk) ? chunk.toString('latin1') : typeof chunk}`);
    },
    onRequestComplete() {
      seen.push('complete');
    },
  };
  const parser = pool.take(handler);
  const a = 'POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc';
  const b = 'GET /b HTTP/1.1\r\nHost: h\r\n\r\n';
  const c = 'GET /c HTTP/1.0\r\n\r\n';
  const bytes = Buffer.from(a + b + c, 'latin1');
  const first = parser.execute(bytes);
  if (typeof first === 'number' || first.code !== 'HPE_PAUSED' || first.bytesParsed !== a.length + b.length) {
    return `unexpected pause result: ${describe(first)}`;
  }
  parser.resume();
  const second = parser.execute(bytes.subarray(first.bytesParsed));
  pool.give(parser);
  if (second !== c.length) return `unexpected resume result: ${describe(second)}`;
  const expected = ['head POST /a Host,h,Content-Length,3 1.1 true', 'body abc', 'complete', 'head GET /b Host,h 1.1 true', 'head GET /c  1.0 false'];
  if (seen.join('|') !== expected.join('|')) return `unexpected callbacks: ${seen.join('|')}`;
  const strict = pool.take(handler);
  const smuggle = strict.execute(Buffer.from('POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n', 'latin1'));
  pool.give(strict);
  if (typeof smuggle === 'number' || !smuggle.code.startsWith('HPE_')) return `Content-Length with Transfer-Encoding was not refused: ${describe(smuggle)}`;
  return null;
}

function describe(r: number | ParseFailure): string {
  return typeof r === 'number' ? String(r) : `${r.code} at ${r.bytesParsed}`;
}

/** Why the internal parser cannot be used (then `llhttp` is null), or null when it can. */
export const llhttpUnavailable: string | null = load();

/** The internal parser, or null when `llhttpUnavailable` says it cannot be used. */
export const llhttp: Llhttp | null =
  llhttpUnavailable === null
    ? {
        version: `llhttp ${process.versions.llhttp ?? '?'}`,
        parserPool: (maxHeaderSize) => new RequestParserPool((common as HttpCommon).HTTPParser, maxHeaderSize, 256),
      }
    : null;
