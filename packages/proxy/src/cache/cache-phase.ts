/**
 * `CachePhase`: the cache phases of one request (chart: `docs/phases.md`, "Cache phases"),
 * made per request when the proxy has a cache, so a request's key, status, lock and stored
 * response live in one place. After `requestFilter`:
 *
 * `PURGE` (allowlisted) → purge; `requestCacheFilter` → `cacheKeyCallback` → lookup →
 * hit: `cacheHitFilter` → serve (HIT, STALE; STALE + one background refresh) or revalidate;
 * miss: `cacheMissFilter` → the cache lock → the holder goes upstream, the others wait and
 * look up again (or go on their own after the lock timeout).
 *
 * Upstream, the request asks for the full `GET` (with validators when revalidating); when the
 * response head arrives, `responseCacheFilter` and `cacheVaryFilter` decide whether it is
 * stored. A stored response is filled from the upstream (`CacheFill`) and the client reads the
 * entry being filled (`CacheServe`), like every request that joins meanwhile.
 */
import { ProxyError, type Logger } from '@pingora-ts/core';
import {
  fieldValue,
  fillRequestHeaders,
  freshenWith304,
  invalidatedPrimaryKeys,
  isSafeMethod,
  keyString,
  lookupVariant,
  requestCacheControl,
  responseCacheable,
  staleIfErrorAllowed,
  type CacheHit,
  type CacheKey,
  type CacheMeta,
  type CacheRequest,
  type BodyWriter,
  type CacheStatus,
  type LockStatus,
  type ResponseCacheable,
  type StoredResponseUse,
  type VariantLookup,
  type WritePermit,
} from '@pingora-ts/cache';
import { isThenable } from '../is-thenable';
import type { ProxyTask } from '../proxy-task';
import type { RequestHeader } from '../request-header';
import type { ResponseHeader } from '../response-header';
import { CacheFill } from './cache-fill';
import type { HttpCache } from './http-cache';

/** What the cache does with this request's trip upstream. */
type Mode =
  /** Not looked up yet, or answered from the cache. */
  | 'none'
  /** The cache is not used (`requestCacheFilter` said no); an unsafe method invalidates. */
  | 'bypass'
  /** A miss holding the lock: fetch the full response and store it if it may be. */
  | 'fill'
  /** A stale response is stored and this request holds the lock: ask with validators. */
  | 'revalidate'
  /** The lock timed out or the holder's response was not cacheable: plain proxying, not stored. */
  | 'uncached';

/** How many lookups one request makes at most (a lookup again after each lock wait). */
const MAX_LOOKUPS = 3;

/** A background refresh (`stale-while-revalidate`): the lock is held, the stale meta known. */
export interface BackgroundRefresh {
  key: CacheKey;
  meta: CacheMeta;
  permit: WritePermit;
}

/** The cache as a request's hooks see it (`session.cache`, null when the proxy has no cache). */
export interface SessionCache {
  /** `HIT`, `MISS`, `EXPIRED`, `STALE`, `REVALIDATED` or `BYPASS`; null until known. */
  readonly status: CacheStatus | null;
  /** The key looked up (primary and variance); null before the lookup. */
  readonly key: CacheKey | null;
  /** This request is a background refresh (`stale-while-revalidate`), its response goes to no client. */
  readonly background: boolean;
  /** The primary key of this request by the configured key template: what the default `cacheKeyCallback` returns. */
  primaryKey(): string;
  /** The default `responseCacheFilter`: RFC 9111's verdict on `response` with the configured policy. */
  responseCacheable(response: ResponseHeader): ResponseCacheable;
}

export class CachePhase<Ctx> implements SessionCache {
  status: CacheStatus | null = null;
  key: CacheKey | null = null;
  private mode: Mode = 'none';
  private primary = '';
  private lookups = 0;
  /** When this request started waiting on the lock (0: it did not). */
  private waitStarted = 0;
  /** The stale stored response, while revalidating (its body is served on a 304 or `stale-if-error`). */
  private stored: CacheHit | null = null;
  private storedMeta: CacheMeta | null = null;
  private permit: WritePermit | null = null;
  /** The last lock wait ended with this (a lookup after `done` that misses again does not lock again). */
  private lockStatus: LockStatus | null = null;
  private found: CacheHit | null = null;
  private response: ResponseHeader | null = null;
  private responseKey: CacheKey | null = null;
  private requestTime = 0;
  private responseTime = 0;
  private readonly logger: Logger;

  constructor(
    readonly cache: HttpCache,
    private readonly task: ProxyTask<Ctx>,
    private readonly refresh: BackgroundRefresh | null,
  ) {
    this.logger = task.rt.logger;
    // Held from the start: whatever ends this request (a hook answering it, a throw) releases it.
    if (refresh !== null) this.permit = refresh.permit;
  }

  get background(): boolean {
    return this.refresh !== null;
  }

  primaryKey(): string {
    return this.cache.keys.primaryKey(this.cacheRequest());
  }

  responseCacheable(response: ResponseHeader): ResponseCacheable {
    return responseCacheable(
      this.cacheRequest(),
      { status: response.status, reason: response.reason, headers: response.headers.raw },
      { requestTime: this.requestTime || Date.now(), responseTime: this.responseTime || Date.now() },
      this.cache.policy,
    );
  }

  private cacheRequest(): CacheRequest {
    const d = this.task.downstream;
    const raw = d.rawHeaders;
    const authority = fieldValue(raw, 'host') ?? '';
    // A HEAD is filled by a GET (the stored GET answers it): judge the response as the GET's.
    return { method: d.method === 'HEAD' ? 'GET' : d.method, scheme: d.scheme, authority, path: d.target, headers: raw };
  }

  // Request side

  /** Runs the request-side phases; ends by going upstream (`task.proxyUpstream`) or answering. */
  start(): void {
    const t = this.task;
    const refresh = this.refresh;
    if (refresh !== null) {
      this.key = refresh.key;
      this.primary = refresh.key.primary;
      this.storedMeta = refresh.meta;
      this.mode = 'revalidate';
      t.proxyUpstream();
      return;
    }
    if (t.downstream.method === 'PURGE') {
      this.purge();
      return;
    }
    let r: boolean | Promise<boolean>;
    try {
      r = t.rt.hooks.requestCacheFilter(t.session, t.ctx);
    } catch (err) {
      t.requestFailed(err);
      return;
    }
    if (isThenable(r)) t.wait(r, this, this.afterRequestCacheFilter, this.hookFailed);
    else this.afterRequestCacheFilter(r);
  }

  private hookFailed(err: unknown): void {
    this.task.requestFailed(err);
  }

  private afterRequestCacheFilter(enabled: boolean): void {
    const t = this.task;
    if (enabled !== true) {
      this.mode = 'bypass';
      this.status = 'BYPASS';
      t.proxyUpstream();
      return;
    }
    let r: string | Promise<string>;
    try {
      r = t.rt.hooks.cacheKeyCallback(t.session, t.ctx);
    } catch (err) {
      t.requestFailed(err);
      return;
    }
    if (isThenable(r)) t.wait(r, this, this.afterKey, this.hookFailed);
    else this.afterKey(r);
  }

  private afterKey(primary: string): void {
    if (typeof primary !== 'string' || primary.length === 0) {
      this.task.requestFailed(ProxyError.internal('InternalError', 'cacheKeyCallback must return a non-empty string'));
      return;
    }
    this.primary = primary;
    this.lookup();
  }

  private lookup(): void {
    this.lookups++;
    const t = this.task;
    t.wait(lookupVariant(this.cache.storage, this.primary, t.downstream.rawHeaders, this.storageFailed), this, this.afterLookup, this.hookFailed);
  }

  private readonly storageFailed = (err: unknown): void => {
    // A broken store must not fail requests: the lookup counts as a miss.
    this.logger.error({ service: this.task.rt.name, key: this.primary, err: err instanceof Error ? err.message : String(err) }, 'cache storage failed; the request goes on uncached');
  };

  private afterLookup(found: VariantLookup): void {
    const t = this.task;
    this.key = found.key;
    const hit = found.hit;
    if (hit === null) {
      let r: void | Promise<void>;
      try {
        r = t.rt.hooks.cacheMissFilter(t.session, t.ctx);
      } catch (err) {
        t.requestFailed(err);
        return;
      }
      if (isThenable(r)) t.wait(r, this, this.afterMissFilter, this.hookFailed);
      else this.afterMissFilter();
      return;
    }
    this.found = hit;
    let use: StoredResponseUse | Promise<StoredResponseUse>;
    try {
      use = t.rt.hooks.cacheHitFilter(t.session, hit.meta, t.ctx);
    } catch (err) {
      this.closeFound();
      t.requestFailed(err);
      return;
    }
    if (isThenable(use)) t.wait(use, this, this.afterHitFilter, this.hitFilterFailed);
    else this.afterHitFilter(use);
  }

  private hitFilterFailed(err: unknown): void {
    this.closeFound();
    this.task.requestFailed(err);
  }

  private closeFound(): void {
    this.found?.body.close();
    this.found = null;
  }

  private afterHitFilter(use: StoredResponseUse): void {
    const t = this.task;
    const hit = this.found as CacheHit;
    this.found = null;
    switch (use) {
      case 'fresh':
        this.serve(hit, 'HIT');
        return;
      case 'stale':
        this.serve(hit, 'STALE');
        return;
      case 'stale-while-revalidate':
        this.refreshInBackground(hit.meta);
        this.serve(hit, 'STALE');
        return;
      case 'revalidate':
        if (this.lockStatus === 'done' && hit.meta.responseTime >= this.waitStarted && fieldValue(t.downstream.rawHeaders, 'authorization') === undefined) {
          // Validated (or fetched) by the request this one waited for, after it arrived: one
          // origin trip serves every waiter (collapsed revalidation), even for `no-cache`.
          this.serve(hit, 'HIT');
          return;
        }
        this.closeStored();
        this.stored = hit;
        this.storedMeta = hit.meta;
        this.lockAndFetch();
        return;
      case 'gateway-timeout':
        hit.body.close();
        this.onlyIfCached();
        return;
      default:
        hit.body.close();
        t.requestFailed(ProxyError.internal('InternalError', `cacheHitFilter returned ${JSON.stringify(use)}; expected fresh, stale, stale-while-revalidate, revalidate or gateway-timeout`));
    }
  }

  private afterMissFilter(): void {
    if (requestCacheControl(this.task.downstream.rawHeaders).onlyIfCached) {
      this.onlyIfCached();
      return;
    }
    // A stale one seen before the lock wait is gone now: it is a plain miss.
    this.closeStored();
    this.storedMeta = null;
    this.lockAndFetch();
  }

  /** `only-if-cached` and nothing usable stored: 504 (RFC 9111 §5.2.1.7). */
  private onlyIfCached(): void {
    const t = this.task;
    this.status = 'MISS';
    this.mode = 'none';
    try {
      t.downstream.respond(504, this.withStatus([]), undefined);
    } catch (err) {
      t.requestFailed(err);
      return;
    }
    t.finish(null);
  }

  /** The first miss for a key goes upstream; the others wait for it and look up again. */
  private lockAndFetch(): void {
    const t = this.task;
    if (this.lookups >= MAX_LOOKUPS || this.lockStatus === 'done') {
      // The holder answered, yet still nothing usable for us (another variant, `no-cache`): go on our own.
      this.mode = 'uncached';
      t.proxyUpstream();
      return;
    }
    const locked = this.cache.lock.lock(keyString(this.key as CacheKey));
    if (locked.role === 'writer') {
      this.permit = locked.permit;
      this.mode = this.storedMeta !== null ? 'revalidate' : 'fill';
      t.proxyUpstream();
      return;
    }
    this.waitStarted = Date.now();
    t.wait(locked.wait(), this, this.afterLockWait, this.hookFailed);
  }

  private afterLockWait(status: LockStatus): void {
    this.lockStatus = status;
    if (status === 'transient-error' && this.stored !== null && this.storedMeta !== null && staleIfErrorAllowed(this.storedMeta, this.task.downstream.rawHeaders, Date.now())) {
      // The origin just failed the request holding the lock: do not ask it again, serve stale.
      this.serveStored('STALE');
      return;
    }
    if (status === 'done' || status === 'transient-error') {
      this.closeStored();
      this.lookup();
      return;
    }
    // give-up (not cacheable) or timeout: to the origin without the lock.
    this.mode = 'uncached';
    this.task.proxyUpstream();
  }

  /** `stale-while-revalidate`: one background request refreshes the entry (none when one already is). */
  private refreshInBackground(meta: CacheMeta): void {
    const key = this.key as CacheKey;
    const locked = this.cache.lock.lock(keyString(key));
    if (locked.role !== 'writer') return;
    this.task.startBackgroundRefresh({ key, meta, permit: locked.permit });
  }

  private serve(hit: CacheHit, status: CacheStatus): void {
    this.status = status;
    this.mode = 'none';
    this.task.serveFromCache(hit, status, this.cache.statusHeader);
  }

  /** `PURGE`: 405 unless an allowlist is configured, 403 for other clients, else 200 (purged) or 404 (nothing stored). */
  private purge(): void {
    const t = this.task;
    const d = t.downstream;
    if (!this.cache.purgeEnabled) {
      this.answer(405, ['allow', 'GET, HEAD, POST, PUT, DELETE, OPTIONS, PATCH']);
      return;
    }
    if (!this.cache.purgeAllowed(d.clientIp())) {
      this.logger.warn({ service: t.rt.name, client: d.clientIp(), path: d.target }, 'PURGE refused: client not in purge_allow');
      this.answer(403, []);
      return;
    }
    let r: string | Promise<string>;
    try {
      r = t.rt.hooks.cacheKeyCallback(t.session, t.ctx);
    } catch (err) {
      t.requestFailed(err);
      return;
    }
    const purgeKey = (primary: string): void => {
      this.primary = primary;
      t.wait(this.cache.storage.purge(primary), this, this.afterPurge, this.purgeFailed);
    };
    if (isThenable(r)) t.wait(r, this, purgeKey, this.hookFailed);
    else purgeKey(r);
  }

  private afterPurge(removed: boolean): void {
    if (removed) this.cache.countPurge();
    this.cache.purged(this.primary);
    this.logger.info({ service: this.task.rt.name, key: this.primary, removed, client: this.task.downstream.clientIp() }, 'cache purge');
    this.answer(removed ? 200 : 404, []);
  }

  private purgeFailed(err: unknown): void {
    this.logger.error({ service: this.task.rt.name, key: this.primary, err: err instanceof Error ? err.message : String(err) }, 'cache purge failed');
    this.answer(500, []);
  }

  private answer(status: number, headers: string[]): void {
    const t = this.task;
    try {
      t.downstream.respond(status, headers, undefined);
    } catch (err) {
      t.requestFailed(err);
      return;
    }
    t.finish(null);
  }

  // Upstream side

  /** Before `upstreamRequestFilter`, each attempt: a fill asks for the full `GET`, a revalidation adds validators. */
  upstreamRequest(request: RequestHeader): void {
    this.requestTime = Date.now();
    const mode = this.mode;
    if (mode !== 'fill' && mode !== 'revalidate') return;
    if (request.method === 'HEAD') request.method = 'GET';
    // Without the client's If-* and Range (the cache answers those itself), with the stored validators.
    const raw = request.headers.raw;
    const filled = fillRequestHeaders(raw, mode === 'revalidate' ? this.storedMeta : null);
    raw.length = 0;
    for (const f of filled) raw.push(f);
  }

  /**
   * The upstream response head arrived (after `upstreamResponseFilter`). Ends by calling
   * `task.passResponse()` (it goes to the client as fetched) or `task.divertResponse(sink)`
   * (the upstream body goes to the store, or nowhere, and the client is served from the cache).
   */
  responseArrived(response: ResponseHeader): void {
    const t = this.task;
    this.responseTime = Date.now();
    this.response = response;
    switch (this.mode) {
      case 'bypass':
        if (!isSafeMethod(t.downstream.method) && response.status >= 200 && response.status < 400) this.invalidate(response);
        this.pass();
        return;
      case 'uncached':
        if (response.status >= 500 && this.serveStaleFor5xx(response)) return;
        this.status = this.storedMeta !== null ? 'EXPIRED' : 'MISS';
        this.pass();
        return;
      case 'fill':
      case 'revalidate':
        break;
      default:
        this.pass();
        return;
    }
    const stored = this.storedMeta;
    if (stored !== null && response.status === 304) {
      this.freshen(stored, response);
      return;
    }
    if (response.status >= 500 && this.serveStaleFor5xx(response)) return;
    let r: ResponseCacheable | Promise<ResponseCacheable>;
    try {
      r = t.rt.hooks.responseCacheFilter(t.session, response, t.ctx);
    } catch (err) {
      this.responseStepFailed(err);
      return;
    }
    if (isThenable(r)) t.wait(r, this, this.afterResponseCacheFilter, this.responseStepFailed);
    else this.afterResponseCacheFilter(r);
  }

  /** A 5xx while a stale response is at hand: serve it when `stale-if-error` allows. */
  private serveStaleFor5xx(response: ResponseHeader): boolean {
    const t = this.task;
    const stored = this.storedMeta;
    if (stored === null || this.stored === null || !staleIfErrorAllowed(stored, t.downstream.rawHeaders, Date.now())) return false;
    this.release('transient-error');
    if (!t.divertResponse(null)) return true;
    this.logger.warn({ service: t.rt.name, key: this.primary, status: response.status }, 'origin failed; serving the stale response (stale-if-error)');
    this.serveStored('STALE');
    return true;
  }

  private responseStepFailed(err: unknown): void {
    this.release('transient-error');
    this.task.responseStepFailed(err);
  }

  /** A 304 to our validators: freshen the stored head, serve the stored body. */
  private freshen(stored: CacheMeta, response: ResponseHeader): void {
    const t = this.task;
    const meta = freshenWith304(stored, { status: 304, headers: response.headers.raw }, { requestTime: this.requestTime, responseTime: this.responseTime }, this.cache.policy);
    if (meta === null) {
      // The 304 names another representation than ours: what is stored is of no use.
      this.release('transient-error');
      void this.cache.storage.purge(this.key as CacheKey).catch(this.storageFailed);
      this.closeStored();
      this.storedMeta = null;
      this.mode = 'uncached';
      // Retried at once, without validators (the mode is now 'uncached').
      this.task.responseStepFailed(
        new ProxyError('a 304 to a cache revalidation names another representation (ETag); the stored response was dropped', {
          kind: 'InvalidHTTPResponse',
          source: 'upstream',
          retry: true,
        }),
      );
      return;
    }
    this.storedMeta = meta;
    const key = this.key as CacheKey;
    t.wait(
      this.cache.storage.updateMeta(key, meta).catch((err: unknown) => {
        this.storageFailed(err);
        return false;
      }),
      this,
      this.afterFreshen,
      this.responseStepFailed,
    );
  }

  private afterFreshen(): void {
    const t = this.task;
    this.release('done');
    if (!t.divertResponse(null)) return;
    if (this.refresh !== null) {
      this.status = 'REVALIDATED';
      this.backgroundDone(304);
      return;
    }
    this.serveStored('REVALIDATED');
  }

  /** A background refresh ends here: its log line shows what the origin answered. */
  private backgroundDone(status: number): void {
    const t = this.task;
    t.downstream.writeHead(status, '', []);
    t.finish(null);
  }

  private serveStored(status: CacheStatus): void {
    const hit = this.stored as CacheHit;
    this.stored = null;
    this.serve({ meta: this.storedMeta as CacheMeta, body: hit.body, size: hit.size }, status);
  }

  private afterResponseCacheFilter(verdict: ResponseCacheable): void {
    const t = this.task;
    this.status = this.storedMeta !== null ? 'EXPIRED' : 'MISS';
    if (verdict === null || typeof verdict !== 'object' || verdict.cacheable !== true) {
      this.release('give-up');
      this.pass();
      return;
    }
    let variance: string | null | Promise<string | null>;
    try {
      variance = t.rt.hooks.cacheVaryFilter(t.session, verdict.meta, t.ctx);
    } catch (err) {
      this.responseStepFailed(err);
      return;
    }
    const put = (v: string | null): void => this.put(verdict.meta, v);
    if (isThenable(variance)) t.wait(variance, this, put, this.responseStepFailed);
    else this.put(verdict.meta, variance);
  }

  private put(meta: CacheMeta, variance: string | null): void {
    const key: CacheKey = { primary: this.primary, variance };
    this.responseKey = key;
    const response = this.response as ResponseHeader;
    const length = response.headers.get('content-length');
    const expected = length !== undefined && /^\d+$/.test(length) ? Number(length) : null;
    const storage = this.cache.storage;
    // The writer and, for the client, a reader of the entry it fills.
    const background = this.refresh !== null;
    const started = storage
      .put(key, meta, expected, { hidden: background })
      .then(async (writer) => {
        if (writer === null || background) return writer === null ? null : { writer, hit: null };
        try {
          return { writer, hit: await storage.get(key) };
        } catch (err) {
          writer.abort();
          throw err;
        }
      })
      .catch((err: unknown) => {
        this.storageFailed(err);
        return null;
      });
    this.task.wait(started, this, this.afterPut, this.responseStepFailed);
  }

  private afterPut(fill: { writer: BodyWriter; hit: CacheHit | null } | null): void {
    const t = this.task;
    if (fill === null || (fill.hit === null && this.refresh === null)) {
      fill?.writer.abort();
      // Declined (too large) or a store error: pass it through uncached.
      this.release('give-up');
      this.pass();
      return;
    }
    const key = this.responseKey as CacheKey;
    const sink = new CacheFill(fill.writer, this.logger, { service: t.rt.name, key: keyString(key) });
    if (!t.divertResponse(sink)) {
      fill.writer.abort();
      fill.hit?.body.close();
      this.release('transient-error');
      return;
    }
    this.release('done');
    this.closeStored();
    if (fill.hit === null) {
      this.backgroundDone((this.response as ResponseHeader).status); // nobody to serve
      return;
    }
    this.serve(fill.hit, this.status as CacheStatus);
  }

  /** The response goes to the client as fetched, with the status header. */
  private pass(): void {
    const header = this.cache.statusHeader;
    const status = this.status ?? 'MISS';
    this.status = status;
    if (header !== null) (this.response as ResponseHeader).headers.set(header, status);
    this.closeStored();
    // A HEAD fetched as a GET to fill the cache, not stored after all: its body is not wanted.
    const mode = this.mode;
    this.task.passResponse(this.task.downstream.method === 'HEAD' && (mode === 'fill' || mode === 'revalidate'));
  }

  /** An unsafe method succeeded: drop what is stored for its URL (and same-origin `Location`, `Content-Location`). */
  private invalidate(response: ResponseHeader): void {
    let keys: string[];
    try {
      keys = invalidatedPrimaryKeys(this.cacheRequest(), { status: response.status, headers: response.headers.raw }, this.cache.keys);
    } catch (err) {
      this.storageFailed(err);
      return;
    }
    for (const k of keys) {
      void this.cache.storage.purge(k).catch(this.storageFailed);
      this.cache.purged(k);
    }
  }

  // Errors and the end

  /**
   * The request failed for good (before `failToProxy`): a stale response the origin's failure
   * allows (`stale-if-error`) is served instead. Returns whether it was.
   */
  serveStaleOnError(e: ProxyError): boolean {
    this.release('transient-error');
    const stored = this.stored;
    if (stored === null || this.storedMeta === null || this.task.downstream.headersSent || this.task.downstream.gone) return false;
    if (e.source !== 'upstream' || !staleIfErrorAllowed(this.storedMeta, this.task.downstream.rawHeaders, Date.now())) return false;
    this.logger.warn({ service: this.task.rt.name, key: this.primary, kind: e.kind }, 'origin failed; serving the stale response (stale-if-error)');
    this.serveStored('STALE');
    return true;
  }

  /** The request is over: a lock still held is released (waiters compete again), an unread stored body closed. */
  done(): void {
    this.cache.count(this.status, this.refresh !== null);
    this.release('transient-error');
    this.closeStored();
    this.closeFound();
  }

  private release(status: 'done' | 'transient-error' | 'give-up'): void {
    const p = this.permit;
    if (p === null) return;
    this.permit = null;
    p.release(status);
  }

  private closeStored(): void {
    this.stored?.body.close();
    this.stored = null;
  }

  private withStatus(headers: string[]): string[] {
    const header = this.cache.statusHeader;
    if (header !== null && this.status !== null) headers.push(header, this.status);
    return headers;
  }
}
