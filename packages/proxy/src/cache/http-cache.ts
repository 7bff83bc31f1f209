/**
 * `HttpCache`: what every request of one proxy shares when it caches (Pingora's storage, cache
 * lock and key settings handed to `session.cache.enable`): the storage, the key template, the
 * cache lock, the RFC 9111 policy knobs, the status header and who may `PURGE`. Made once from
 * `HttpProxyOptions.cache`; the per-request state lives in `CachePhase`.
 */
import { BlockList, isIP } from 'node:net';
import {
  CACHE_STATUSES,
  CacheKeyTemplate,
  CacheLock,
  DEFAULT_CACHE_STATUS_HEADER,
  MemoryHttpStorage,
  resolvePolicyOptions,
  type HttpCachePolicyOptions,
  type CacheStatus,
  type HttpCacheStorage,
  type HttpStorageStats,
  type ResolvedPolicyOptions,
} from '@pingora-ts/cache';

export interface HttpCacheOptions {
  /** Where responses are kept. Default: a `MemoryHttpStorage` bounded by `maxSizeBytes` and `maxObjectBytes`. */
  storage?: HttpCacheStorage;
  /** Bytes the default storage keeps (bodies and heads). Default 64 MiB. Not with `storage`. */
  maxSizeBytes?: number;
  /** Largest body the default storage keeps; larger ones pass through uncached. Default 8 MiB. Not with `storage`. */
  maxObjectBytes?: number;
  /** The primary key template (`$scheme`, `$host`, `$uri`, `$args`, `$request_uri`, `$http_<name>`). Default `$scheme://$host$request_uri`. */
  key?: string;
  /** How long concurrent misses for one key wait for the one fetching it, in ms; then they go to the origin themselves. Default 5000. */
  lockTimeoutMs?: number;
  /** The response header saying `HIT`, `MISS`, `EXPIRED`, `STALE`, `REVALIDATED` or `BYPASS`; `false`: none. Default `X-Cache-Status`. */
  statusHeader?: string | false;
  /** Client addresses or CIDR ranges (`10.0.0.0/8`, `::1`) allowed to `PURGE`. Empty (default): `PURGE` is answered 405. */
  purgeAllow?: readonly string[];
  /** Freshness and stale-serving knobs (`defaultTtlSeconds`, `staleWhileRevalidateSeconds`, …). */
  policy?: HttpCachePolicyOptions;
  /**
   * Called with each primary key a `PURGE` or an unsafe method's invalidation dropped here, so
   * other caches (other workers' stores) can drop it too (`storage.purge(key)`).
   */
  onPurge?: (primaryKey: string) => void;
}

/** What a cache did since the start (`HttpCache.stats`, `HttpProxy.stats().cache`). */
export interface HttpCacheStats {
  /** Finished requests by cache status (background refreshes not included). */
  statuses: Record<CacheStatus, number>;
  /** Background refreshes (`stale-while-revalidate`) run. */
  backgroundRefreshes: number;
  /** `PURGE` requests that removed something. */
  purges: number;
  /** What the store holds, when it tells (`MemoryHttpStorage` does). */
  storage: HttpStorageStats | null;
}

const OPTION_KEYS: ReadonlySet<string> = new Set(['storage', 'maxSizeBytes', 'maxObjectBytes', 'key', 'lockTimeoutMs', 'statusHeader', 'purgeAllow', 'policy', 'onPurge']);
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

export class HttpCache {
  readonly storage: HttpCacheStorage;
  readonly keys: CacheKeyTemplate;
  readonly lock: CacheLock;
  readonly policy: ResolvedPolicyOptions;
  /** The status header's name, or null when none is sent. */
  readonly statusHeader: string | null;
  private readonly purgeList: BlockList | null;
  private readonly onPurge: ((primaryKey: string) => void) | null;
  private readonly statuses = Object.fromEntries(CACHE_STATUSES.map((s) => [s, 0])) as Record<CacheStatus, number>;
  private backgroundRefreshes = 0;
  private purges = 0;

  /** Checks every option; a bad one throws a `TypeError` naming it (`cache.<option>`). */
  constructor(options: HttpCacheOptions = {}) {
    if (typeof options !== 'object' || options === null) throw new TypeError('HttpProxy option "cache" must be an object');
    for (const k of Object.keys(options)) {
      if (!OPTION_KEYS.has(k)) throw new TypeError(`unknown HttpProxy option "cache.${k}" (known: ${[...OPTION_KEYS].join(', ')})`);
    }
    this.storage = options.storage ?? prefixed(() => new MemoryHttpStorage({ maxSizeBytes: options.maxSizeBytes, maxObjectBytes: options.maxObjectBytes }));
    if (options.storage !== undefined && (options.maxSizeBytes !== undefined || options.maxObjectBytes !== undefined)) {
      throw new TypeError('HttpProxy option "cache.maxSizeBytes"/"cache.maxObjectBytes" apply to the default storage only; set them on the storage you pass');
    }
    this.keys = prefixed(() => new CacheKeyTemplate(options.key));
    this.lock = prefixed(() => new CacheLock({ lockTimeoutMs: options.lockTimeoutMs }));
    this.policy = prefixed(() => resolvePolicyOptions(options.policy ?? {}), 'HttpProxy option "cache.policy.');
    const header = options.statusHeader ?? DEFAULT_CACHE_STATUS_HEADER;
    if (header !== false && (typeof header !== 'string' || !TOKEN.test(header))) {
      throw new TypeError(`HttpProxy option "cache.statusHeader" must be a header name or false, got ${JSON.stringify(header)}`);
    }
    this.statusHeader = header === false ? null : header;
    this.purgeList = purgeList(options.purgeAllow ?? []);
    if (options.onPurge !== undefined && typeof options.onPurge !== 'function') throw new TypeError('HttpProxy option "cache.onPurge" must be a function');
    this.onPurge = options.onPurge ?? null;
  }

  /** @internal A `PURGE` or an invalidation dropped `primaryKey` here: tell `onPurge`. */
  purged(primaryKey: string): void {
    this.onPurge?.(primaryKey);
  }

  /** @internal A request ended with `status` (null: the cache did not decide, e.g. PURGE). */
  count(status: CacheStatus | null, background: boolean): void {
    if (background) this.backgroundRefreshes++;
    else if (status !== null) this.statuses[status]++;
  }

  /** @internal */
  countPurge(): void {
    this.purges++;
  }

  stats(): HttpCacheStats {
    return { statuses: { ...this.statuses }, backgroundRefreshes: this.backgroundRefreshes, purges: this.purges, storage: this.storage.stats?.() ?? null };
  }

  /** Whether `PURGE` is served at all (an allowlist was given). */
  get purgeEnabled(): boolean {
    return this.purgeList !== null;
  }

  /** Whether the client at `ip` may `PURGE`. */
  purgeAllowed(ip: string): boolean {
    if (this.purgeList === null) return false;
    const family = isIP(ip);
    if (family === 0) return false;
    return this.purgeList.check(ip, family === 4 ? 'ipv4' : 'ipv6');
  }
}

/** The allowlist as a `BlockList` (used as an allow list: `check` says "listed"), or null when empty. */
function purgeList(entries: readonly string[]): BlockList | null {
  if (!Array.isArray(entries)) throw new TypeError('HttpProxy option "cache.purgeAllow" must be a list of addresses or CIDR ranges');
  if (entries.length === 0) return null;
  const list = new BlockList();
  entries.forEach((entry, i) => {
    const bad = (): TypeError => new TypeError(`HttpProxy option "cache.purgeAllow[${i}]": "${String(entry)}" is not an IP address or CIDR range`);
    if (typeof entry !== 'string') throw bad();
    const slash = entry.indexOf('/');
    const addr = slash < 0 ? entry : entry.slice(0, slash);
    const family = isIP(addr);
    if (family === 0) throw bad();
    const type = family === 4 ? 'ipv4' : 'ipv6';
    if (slash < 0) {
      list.addAddress(addr, type);
      return;
    }
    const bits = entry.slice(slash + 1);
    const prefix = Number(bits);
    if (!/^\d{1,3}$/.test(bits) || prefix > (family === 4 ? 32 : 128)) throw bad();
    list.addSubnet(addr, prefix, type);
  });
  return list;
}

/** Runs a constructor from `@pingora-ts/cache`, naming its option as this proxy's (`cache.<option>`). */
function prefixed<T>(make: () => T, prefix = 'HttpProxy option "cache.'): T {
  try {
    return make();
  } catch (err) {
    if (err instanceof TypeError) throw new TypeError(err.message.replace(/(?:HTTP )?cache option "/, prefix), { cause: err });
    throw err;
  }
}
