/**
 * The interface a user implements to program the proxy (Pingora's `ProxyHttp` trait).
 *
 * Only `newCtx` and `upstreamPeer` are required; every other hook has a default (see
 * `DEFAULT_HOOKS` in `hooks.ts`). Hooks run in this order (chart: `docs/phases.md`):
 *
 * earlyRequestFilter → requestFilter → [with a cache: requestCacheFilter → cacheKeyCallback →
 * lookup → cacheHitFilter (serve) | cacheMissFilter] → proxyUpstreamFilter → retry loop {
 * upstreamPeer → connect → connectedToUpstream | failToConnect → upstreamRequestFilter →
 * requestBodyFilter → requestTrailerFilter → upstreamResponseFilter → [responseCacheFilter →
 * cacheVaryFilter] → responseFilter → responseBodyFilter → upstreamResponseTrailerFilter |
 * errorWhileProxy } → failToProxy (on error) → logging.
 *
 * Hooks may be sync or async. Decisions are return values, never callbacks. A hook that
 * throws ends the request through `failToProxy` (a non-`ProxyError` becomes `InternalError`, 500).
 */
import type { ProxyError } from '@pingora-ts/core';
import type { CacheMeta, ResponseCacheable, StoredResponseUse } from '@pingora-ts/cache';
import type { HeaderList } from './header-list';
import type { HttpPeer } from './http-peer';
import type { RequestHeader } from './request-header';
import type { ResponseHeader } from './response-header';
import type { Session } from './session';

/** What a body filter returns: a `Buffer` replaces the chunk, `null` drops it, `undefined` keeps it. */
export type BodyFilterResult = Buffer | null | undefined | void;

/** What `failToProxy` returns: the status sent (or that would have been sent) downstream, for logs. */
export interface FailToProxy {
  status: number;
}

type MaybePromise<T> = T | Promise<T>;

export interface ProxyHttp<Ctx> {
  /**
   * Runs first, once per request, before any hook. Creates the per-request state handed to
   * every hook as `ctx`. Required; must not throw.
   */
  newCtx(): Ctx;

  /**
   * Runs at the start of each attempt of the retry loop, after `proxyUpstreamFilter` (first
   * attempt) or after `failToConnect`/`errorWhileProxy` allowed a retry; next comes the
   * connect. May look at `session.retries` to pick another backend.
   * Returns the peer to send this attempt to. Required. Throwing (e.g. a `ProxyError` of kind
   * `NoHealthyUpstream`) ends the loop unless the error's `retry` allows another attempt.
   */
  upstreamPeer(session: Session, ctx: Ctx): MaybePromise<HttpPeer>;

  /**
   * Runs first after `newCtx`, before `requestFilter`. May read the request and set up `ctx`.
   * Returns nothing; throwing ends the request through `failToProxy`.
   * Default: does nothing.
   */
  earlyRequestFilter?(session: Session, ctx: Ctx): MaybePromise<void>;

  /**
   * Runs after `earlyRequestFilter`, before `proxyUpstreamFilter`. The place to validate,
   * rate limit, check access, or answer the request itself with `session.respond()`.
   * Returns `true` when it already sent a response (the proxy skips to `logging`), `false` to
   * go on. Default: does nothing and returns `false`.
   */
  requestFilter?(session: Session, ctx: Ctx): MaybePromise<boolean>;

  /**
   * Runs only for a `CONNECT` request, after `requestFilter` (which may check
   * `Proxy-Authorization`) and before `proxyUpstreamFilter`. Returns `true` to serve it: the
   * retry loop runs as usual (`upstreamPeer` names where to tunnel to; no request is sent
   * there), the client gets `200 Connection Established`, and bytes then flow both ways until
   * either side closes (see `docs/websocket.md`). Returns `false` to refuse it: `405` with
   * `Allow` and `Connection: close`, then `logging`. Default: returns `false` (as Pingora,
   * which does not proxy `CONNECT`).
   */
  allowConnect?(session: Session, ctx: Ctx): MaybePromise<boolean>;
  /**
   * Runs after `requestFilter` when the proxy has a cache (`HttpProxyOptions.cache`), first of
   * the cache phases (not for `CONNECT`). Returns `true` to use the cache for this request,
   * `false` to bypass it (`BYPASS`; a successful unsafe method still invalidates its URL).
   * Default: `true` for `GET` and `HEAD` without `Upgrade` (a `HEAD` is served from the stored `GET`).
   */
  requestCacheFilter?(session: Session, ctx: Ctx): MaybePromise<boolean>;

  /**
   * Runs after `requestCacheFilter` allowed the cache, and for an allowed `PURGE`. Returns the
   * primary cache key (the `Vary` variance is added to it by the cache). Default:
   * `session.cache.primaryKey()`, the configured template (`$scheme://$host$request_uri`).
   */
  cacheKeyCallback?(session: Session, ctx: Ctx): MaybePromise<string>;

  /**
   * Runs when the lookup found a stored response (`meta`: its head and freshness), before it is
   * used. Returns how: `'fresh'` (HIT), `'stale'` (served, STALE), `'stale-while-revalidate'`
   * (served, STALE, one background request refreshes it), `'revalidate'` (ask the origin with
   * validators first) or `'gateway-timeout'` (504, for `only-if-cached`). Return
   * `'revalidate'` to force a refresh. Default: RFC 9111's answer (`storedResponseUse`).
   */
  cacheHitFilter?(session: Session, meta: CacheMeta, ctx: Ctx): MaybePromise<StoredResponseUse>;

  /**
   * Runs when the lookup found nothing stored, before the cache lock (the first miss for a key
   * goes upstream, the others wait for it). For logs and metrics. Returns nothing. Default:
   * does nothing.
   */
  cacheMissFilter?(session: Session, ctx: Ctx): MaybePromise<void>;

  /**
   * Runs after `requestFilter` (and the cache phases, which may have answered), before the retry loop.
   * May answer itself with `session.respond()`.
   * Returns `true` to proxy; `false` not to: unless the hook responded, a `502` with no body
   * is sent, and `logging` follows with no error. Default: returns `true`.
   */
  proxyUpstreamFilter?(session: Session, ctx: Ctx): MaybePromise<boolean>;

  /**
   * Runs in each attempt once a connection to the peer is ready (new, or reused from the pool),
   * after `upstreamPeer` and before `upstreamRequestFilter`. For timing and connection logs;
   * changes nothing. Returns nothing. Default: does nothing.
   */
  connectedToUpstream?(session: Session, reused: boolean, peer: HttpPeer, ctx: Ctx): MaybePromise<void>;

  /**
   * Runs when connecting to `peer` failed (refused, timed out, TLS), instead of
   * `connectedToUpstream`; next comes `upstreamPeer` again (retry) or `failToProxy`.
   * May set `e.retry` to allow or forbid a retry. Returns the error to use (usually `e`).
   * Default: returns `e` unchanged (connect errors are retryable, see `ERROR_KINDS`).
   */
  failToConnect?(session: Session, peer: HttpPeer, ctx: Ctx, e: ProxyError): ProxyError;

  /**
   * Runs in each attempt after `connectedToUpstream`, before the request head is sent and
   * before `requestBodyFilter`; again on retry, with a fresh copy. May change the method, path
   * and headers sent upstream (`upstreamRequest`); the downstream request is untouched. When
   * it changes the body size with a body filter, remove `Content-Length` here (chunked is used).
   * Returns nothing. Default: sends it unchanged (hop-by-hop headers already removed,
   * `X-Forwarded-*` added, `Host` kept).
   */
  upstreamRequestFilter?(session: Session, upstreamRequest: RequestHeader, ctx: Ctx): MaybePromise<void>;

  /**
   * Runs for each piece of the request body on its way upstream, after
   * `upstreamRequestFilter`, then once more with `chunk = null, endOfStream = true`.
   * `chunk` is **one chunk, never the whole body**. May replace or drop the chunk (see
   * `BodyFilterResult`); at the end may return bytes to append. Only called when you define
   * it (the default path costs nothing per chunk) and only for requests with a body.
   * Default: forwards every chunk unchanged.
   */
  requestBodyFilter?(session: Session, chunk: Buffer | null, endOfStream: boolean, ctx: Ctx): MaybePromise<BodyFilterResult>;

  /**
   * Runs when the request body ended with trailers (a chunked HTTP/1.1 body, an HTTP/2
   * request), after `requestBodyFilter`'s last call and before the trailers go upstream; only
   * when there are trailers. May change `trailers` in place (an empty list sends none). They reach
   * the upstream on HTTP/2 and on a chunked HTTP/1.1 request (a counted body cannot carry them).
   * Returns nothing; throwing ends the attempt through `errorWhileProxy`. Default: does nothing.
   */
  requestTrailerFilter?(session: Session, trailers: HeaderList, ctx: Ctx): MaybePromise<void>;

  /**
   * Runs when the upstream response head arrived, before `responseFilter` (where the cache will
   * store it). May change status and headers (hop-by-hop ones already removed). Returns nothing.
   * Default: does nothing.
   */
  upstreamResponseFilter?(session: Session, upstreamResponse: ResponseHeader, ctx: Ctx): MaybePromise<void>;

  /**
   * Runs after `upstreamResponseFilter` when this request may fill the cache (a miss or a
   * revalidation), before `responseFilter`. Returns whether the response is stored, with the
   * meta to store (`{ cacheable: true, meta }`) or why not (`{ cacheable: false, reason }`).
   * What `upstreamResponseFilter` changed is stored. Default: `session.cache.responseCacheable(
   * upstreamResponse)`: RFC 9111's shared-cache rules with the configured policy.
   */
  responseCacheFilter?(session: Session, upstreamResponse: ResponseHeader, ctx: Ctx): MaybePromise<ResponseCacheable>;

  /**
   * Runs when a response is about to be stored, after `responseCacheFilter`. Returns the
   * variance (secondary key) it is stored under, or `null` for none. Default: the request's
   * values of the response's `Vary` fields (`varianceKey(meta.vary, session.rawHeaders)`).
   */
  cacheVaryFilter?(session: Session, meta: CacheMeta, ctx: Ctx): MaybePromise<string | null>;

  /**
   * Runs after `upstreamResponseFilter`, right before the head is sent downstream; next come
   * the body chunks. May change status and headers; with a size-changing `responseBodyFilter`
   * remove `Content-Length` here. Returns nothing. Default: does nothing.
   */
  responseFilter?(session: Session, upstreamResponse: ResponseHeader, ctx: Ctx): MaybePromise<void>;

  /**
   * Runs for each piece of the response body after `responseFilter`, then once more with
   * `chunk = null, endOfStream = true`; next comes `logging`. `chunk` is **one chunk, never the
   * whole body**. May replace or drop it (see `BodyFilterResult`), or append at the end. Only
   * called when you define it (no per-chunk cost otherwise). Default: forwards unchanged.
   */
  responseBodyFilter?(session: Session, chunk: Buffer | null, endOfStream: boolean, ctx: Ctx): MaybePromise<BodyFilterResult>;

  /**
   * Runs when the upstream response ended with trailers (HTTP/2 trailers, a chunked HTTP/1.1
   * response's trailer fields, gRPC's `grpc-status`), after `responseBodyFilter`'s last call and
   * before the trailers go downstream; next comes `logging`. Only when there are trailers. May
   * change `trailers` in place (an empty list sends none). Returns nothing; throwing ends the
   * attempt through `errorWhileProxy` (the response head is already out: the connection drops).
   * Default: does nothing.
   */
  upstreamResponseTrailerFilter?(session: Session, trailers: HeaderList, ctx: Ctx): MaybePromise<void>;

  /**
   * Runs when an attempt fails **after** the connection was made (write/read error, timeout,
   * invalid response, a hook that threw); next comes `upstreamPeer` again (retry) or
   * `failToProxy`. `clientReused` says whether the upstream connection came from the pool.
   * May set `e.retry`. Returns the error to use. Default: resolves a `'reused-only'` retry to
   * `clientReused` and returns `e`. Whatever it says, a request whose body was already partly
   * sent, or a non-idempotent one whose head was sent, is not retried.
   */
  errorWhileProxy?(peer: HttpPeer, session: Session, e: ProxyError, ctx: Ctx, clientReused: boolean): ProxyError;

  /**
   * Runs once when the request failed for good (any hook threw, retries ran out, or an error
   * was not retryable), before `logging`. May write an error response if no head was sent yet.
   * Returns the status sent, for logs. Default: sends `e.status` (502 upstream failures, 504
   * read timeout, 400 bad request, 500 internal; see `ERROR_KINDS`) with a short text body and
   * `Connection: close`; when a head was already sent, or the client is gone, drops the
   * connection instead.
   */
  failToProxy?(session: Session, e: ProxyError, ctx: Ctx): MaybePromise<FailToProxy>;

  /**
   * Runs last, exactly once per request, whatever happened (`e` is the error, or `null`).
   * For access logs and metrics: `session.method/path/status/bytesSent/durationMs()/upstream/
   * retries`. Returns nothing; a throw is logged and ignored. Default: does nothing.
   */
  logging?(session: Session, e: ProxyError | null, ctx: Ctx): MaybePromise<void>;
}
