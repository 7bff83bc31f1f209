import * as cache from '@pingora-ts/cache';

describe('@pingora-ts/cache entry', () => {
  it('exports the HTTP cache pieces from the package root', () => {
    for (const name of ['parseCacheControl', 'storable', 'responseCacheable', 'storedResponseUse', 'CacheKeyTemplate', 'varianceKey', 'freshenWith304', 'evaluateClientConditional', 'evaluateRange', 'invalidatedPrimaryKeys', 'lookupVariant', 'MemoryHttpStorage', 'CacheLock', 'cacheStatusOfLookup']) {
      expect(typeof (cache as Record<string, unknown>)[name]).toBe('function');
    }
    expect(cache.CACHE_STATUSES).toEqual(['HIT', 'MISS', 'EXPIRED', 'STALE', 'REVALIDATED', 'BYPASS']);
    expect(cache.DEFAULT_CACHE_STATUS_HEADER).toBe('X-Cache-Status');
  });

  it('uses the cache for GET and HEAD only (the requestCacheFilter default)', () => {
    expect(['GET', 'HEAD', 'POST', 'PUT', 'OPTIONS'].filter(cache.isCacheableMethod)).toEqual(['GET', 'HEAD']);
  });
});
