/**
 * The hook names (listed once), their defaults (in one object), and the check that turns a
 * user's `ProxyHttp` into a complete, bound set of hooks when the service is built: a missing
 * required hook, a hook that is not a function, or a misspelt one (`requestFiltr`) throws then.
 */
import type { ProxyError } from '@pingora-ts/core';
import { isCacheableMethod, storedResponseUse, varianceKey, type CacheMeta, type ResponseCacheable, type StoredResponseUse } from '@pingora-ts/cache';
import type { SessionCache } from './cache/cache-phase';
import { asksProtocolSwitch } from './downstream/request-checks';
import type { ResponseHeader } from './response-header';
import { sendErrorResponse } from './error-response';
import type { BodyFilterResult, FailToProxy, ProxyHttp } from './proxy-http';
import type { HeaderList } from './header-list';
import type { Session } from './session';

/** Every hook of `ProxyHttp`, in the order they run. */
export const HOOK_NAMES = [
  'newCtx',
  'earlyRequestFilter',
  'requestFilter',
  'allowConnect',
  'requestCacheFilter',
  'cacheKeyCallback',
  'cacheHitFilter',
  'cacheMissFilter',
  'proxyUpstreamFilter',
  'upstreamPeer',
  'connectedToUpstream',
  'failToConnect',
  'upstreamRequestFilter',
  'requestBodyFilter',
  'requestTrailerFilter',
  'upstreamResponseFilter',
  'responseCacheFilter',
  'cacheVaryFilter',
  'responseFilter',
  'responseBodyFilter',
  'upstreamResponseTrailerFilter',
  'errorWhileProxy',
  'failToProxy',
  'logging',
] as const;

export type HookName = (typeof HOOK_NAMES)[number];

const REQUIRED: readonly HookName[] = ['newCtx', 'upstreamPeer'];
const HOOK_SET: ReadonlySet<string> = new Set(HOOK_NAMES);

type DefaultedHooks = Required<Omit<ProxyHttp<unknown>, 'newCtx' | 'upstreamPeer'>>;

/** The default of every optional hook (what Pingora's trait methods do by default). */
export const DEFAULT_HOOKS: DefaultedHooks = {
  earlyRequestFilter(): void {},
  requestFilter(): boolean {
    return false;
  },
  allowConnect(): boolean {
    return false;
  },
  requestCacheFilter(session: Session): boolean {
    return isCacheableMethod(session.method) && !asksProtocolSwitch(session.rawHeaders as string[]);
  },
  cacheKeyCallback(session: Session): string {
    return (session.cache as SessionCache).primaryKey();
  },
  cacheHitFilter(session: Session, meta: CacheMeta): StoredResponseUse {
    return storedResponseUse(meta, session.rawHeaders, Date.now());
  },
  cacheMissFilter(): void {},
  proxyUpstreamFilter(): boolean {
    return true;
  },
  connectedToUpstream(): void {},
  failToConnect(_session, _peer, _ctx, e): ProxyError {
    return e;
  },
  upstreamRequestFilter(): void {},
  requestBodyFilter(): BodyFilterResult {
    return undefined;
  },
  requestTrailerFilter(): void {},
  upstreamResponseFilter(): void {},
  responseCacheFilter(session: Session, response: ResponseHeader): ResponseCacheable {
    return (session.cache as SessionCache).responseCacheable(response);
  },
  cacheVaryFilter(session: Session, meta: CacheMeta): string | null {
    return varianceKey(meta.vary, session.rawHeaders);
  },
  responseFilter(): void {},
  responseBodyFilter(): BodyFilterResult {
    return undefined;
  },
  upstreamResponseTrailerFilter(): void {},
  errorWhileProxy(_peer, _session, e, _ctx, clientReused): ProxyError {
    if (e.retry === 'reused-only') e.retry = clientReused;
    return e;
  },
  failToProxy(session: Session, e: ProxyError): FailToProxy {
    sendErrorResponse(session, e.status);
    return { status: e.status };
  },
  logging(): void {},
};

/** A trailer filter bound to its app. */
export type BoundTrailerFilter<Ctx> = (session: Session, trailers: HeaderList, ctx: Ctx) => void | Promise<void>;

/** A body filter bound to its app. */
export type BoundBodyFilter<Ctx> = (session: Session, chunk: Buffer | null, endOfStream: boolean, ctx: Ctx) => BodyFilterResult | Promise<BodyFilterResult>;

export interface ResolvedHooks<Ctx> {
  /** Every hook, bound to the app, defaults filled in. */
  hooks: Required<ProxyHttp<Ctx>>;
  /** The user's request body filter, or `null` (then the body is piped with no per-chunk call). */
  requestBodyFilter: BoundBodyFilter<Ctx> | null;
  /** The user's response body filter, or `null`. */
  responseBodyFilter: BoundBodyFilter<Ctx> | null;
  /** The user's request trailer filter, or `null` (then trailers pass with no call). */
  requestTrailerFilter: BoundTrailerFilter<Ctx> | null;
  /** The user's upstream response trailer filter, or `null`. */
  upstreamResponseTrailerFilter: BoundTrailerFilter<Ctx> | null;
}

/**
 * Checks `app` and returns its hooks with defaults. Throws a `TypeError` when a required hook
 * is missing, a hook is not a function, or a method looks like a misspelt hook.
 */
export function resolveHooks<Ctx>(app: ProxyHttp<Ctx>): ResolvedHooks<Ctx> {
  if (typeof app !== 'object' || app === null) throw new TypeError('ProxyHttp must be an object');
  const target = app as unknown as Record<string, unknown>;
  for (const name of memberNames(app)) {
    if (HOOK_SET.has(name)) continue;
    if (typeof target[name] !== 'function') continue;
    const suggestion = closestHook(name);
    if (suggestion !== null) {
      throw new TypeError(`unknown ProxyHttp hook "${name}"; did you mean "${suggestion}"? Hooks: ${HOOK_NAMES.join(', ')}`);
    }
  }
  const hooks: Record<string, unknown> = {};
  for (const name of HOOK_NAMES) {
    const fn = target[name];
    if (fn === undefined) {
      if (REQUIRED.includes(name)) throw new TypeError(`ProxyHttp is missing the required hook "${name}"`);
      hooks[name] = (DEFAULT_HOOKS as unknown as Record<string, unknown>)[name];
    } else if (typeof fn !== 'function') {
      throw new TypeError(`ProxyHttp hook "${name}" must be a function, got ${typeof fn}`);
    } else {
      hooks[name] = (fn as (...a: unknown[]) => unknown).bind(app);
    }
  }
  const resolved = hooks as unknown as Required<ProxyHttp<Ctx>>;
  return {
    hooks: resolved,
    requestBodyFilter: target.requestBodyFilter === undefined ? null : resolved.requestBodyFilter,
    responseBodyFilter: target.responseBodyFilter === undefined ? null : resolved.responseBodyFilter,
    requestTrailerFilter: target.requestTrailerFilter === undefined ? null : resolved.requestTrailerFilter,
    upstreamResponseTrailerFilter: target.upstreamResponseTrailerFilter === undefined ? null : resolved.upstreamResponseTrailerFilter,
  };
}

/** Own and inherited member names of `obj`, up to (not including) `Object.prototype`. */
function memberNames(obj: object): Set<string> {
  const names = new Set<string>();
  for (let o: object | null = obj; o !== null && o !== Object.prototype; o = Object.getPrototypeOf(o) as object | null) {
    for (const n of Object.getOwnPropertyNames(o)) if (n !== 'constructor') names.add(n);
  }
  return names;
}

/** The hook `name` is probably a misspelling of (edit distance ≤ 2, ignoring case; or any *Filter), or null. */
function closestHook(name: string): string | null {
  const lower = name.toLowerCase();
  let best: string | null = null;
  let bestDist = Infinity;
  for (const hook of HOOK_NAMES) {
    const d = editDistance(lower, hook.toLowerCase());
    if (d < bestDist) {
      bestDist = d;
      best = hook;
    }
  }
  if (bestDist <= 2 || lower.endsWith('filter')) return best;
  return null;
}

function editDistance(a: string, b: string): number {
  const prev = new Array<number>(b.length + 1);
  for (let j = 0; j <= b.length; j++) prev[j] = j;
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0] as number;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const up = prev[j] as number;
      prev[j] = Math.min(up + 1, (prev[j - 1] as number) + 1, diag + (a.charCodeAt(i - 1) === b.charCodeAt(j - 1) ? 0 : 1));
      diag = up;
    }
  }
  return prev[b.length] as number;
}
