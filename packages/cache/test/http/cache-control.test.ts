import { cacheControlOf, DELTA_SECONDS_MAX, parseCacheControl } from '../../src/http';

describe('parseCacheControl (RFC 9111 §5.2)', () => {
  it('reads response directives, case-insensitively, with token or quoted arguments', () => {
    const cc = parseCacheControl('Public, MAX-AGE=60, s-maxage="120", must-revalidate, proxy-revalidate, immutable, no-transform');
    expect(cc).toMatchObject({ public: true, maxAge: 60, sMaxAge: 120, mustRevalidate: true, proxyRevalidate: true, immutable: true, noTransform: true });
  });

  it('reads request directives', () => {
    expect(parseCacheControl('max-stale')).toMatchObject({ maxStale: Infinity });
    expect(parseCacheControl('max-stale=30, min-fresh=5, only-if-cached, no-cache')).toMatchObject({ maxStale: 30, minFresh: 5, onlyIfCached: true, noCache: true });
  });

  it('keeps qualified no-cache and private field lists (lower case)', () => {
    const cc = parseCacheControl('no-cache="Set-Cookie, X-Foo", private="Authorization-Info"');
    expect(cc.noCache).toEqual(['set-cookie', 'x-foo']);
    expect(cc.private).toEqual(['authorization-info']);
    expect(parseCacheControl('private="a", private').private).toBe(true);
  });

  it('reads stale-while-revalidate and stale-if-error (RFC 5861)', () => {
    expect(parseCacheControl('max-age=600, stale-while-revalidate=30, stale-if-error=86400')).toMatchObject({ staleWhileRevalidate: 30, staleIfError: 86400 });
  });

  it('treats invalid freshness values as stale (§4.2.1), never throwing', () => {
    expect(parseCacheControl('max-age=abc').maxAge).toBe(0);
    expect(parseCacheControl('max-age=-1').maxAge).toBe(0);
    expect(parseCacheControl('max-age=1.5').maxAge).toBe(0);
    expect(parseCacheControl('max-age').maxAge).toBe(0);
    expect(parseCacheControl('s-maxage=').sMaxAge).toBe(0);
    for (const junk of ['', ',,,', '=', '"', 'max-age="60', '=5, ,', '\u0000', 'a=b=c, "x"']) expect(() => parseCacheControl(junk)).not.toThrow();
  });

  it('treats two different max-age values as stale, and equal ones as that value', () => {
    expect(parseCacheControl('max-age=60, max-age=3600').maxAge).toBe(0);
    expect(parseCacheControl('max-age=60, max-age=60').maxAge).toBe(60);
  });

  it('caps delta-seconds at 2^31 (§1.2.2)', () => {
    expect(parseCacheControl('max-age=99999999999999999999').maxAge).toBe(DELTA_SECONDS_MAX);
    expect(parseCacheControl('max-age=2147483649').maxAge).toBe(DELTA_SECONDS_MAX);
  });

  it('joins several Cache-Control lines into one list', () => {
    expect(cacheControlOf(['Cache-Control', 'public', 'cache-control', 'max-age=5'])).toMatchObject({ public: true, maxAge: 5 });
  });

  it('ignores unknown extensions', () => {
    expect(parseCacheControl('community="UCI", max-age=5')).toMatchObject({ maxAge: 5 });
  });
});
