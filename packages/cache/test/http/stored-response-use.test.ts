import { cacheStatusAfterOrigin, cacheStatusOfLookup, staleIfErrorAllowed, storedResponseUse } from '../../src/http';
import { AT_T0, metaOf, req, res, s } from './fixtures';

const cc = (v: string): string[] => ['Cache-Control', v];

describe('using a stored response (RFC 9111 §4.2, §5.2.1; RFC 5861)', () => {
  const m60 = metaOf(res(cc('max-age=60')));

  it('serves it while fresh, revalidates once stale', () => {
    expect(storedResponseUse(m60, [], s(59))).toBe('fresh');
    expect(storedResponseUse(m60, [], s(60))).toBe('revalidate');
  });

  it('revalidates every time for no-cache, in the response or the request (and Pragma without Cache-Control)', () => {
    expect(storedResponseUse(metaOf(res(cc('no-cache, max-age=60'))), [], s(1))).toBe('revalidate');
    expect(storedResponseUse(m60, cc('no-cache'), s(1))).toBe('revalidate');
    expect(storedResponseUse(m60, ['Pragma', 'no-cache'], s(1))).toBe('revalidate');
    expect(storedResponseUse(m60, ['Pragma', 'no-cache', ...cc('max-stale')], s(1))).toBe('fresh');
  });

  it('honours the request max-age and min-fresh', () => {
    expect(storedResponseUse(m60, cc('max-age=10'), s(10))).toBe('fresh');
    expect(storedResponseUse(m60, cc('max-age=10'), s(11))).toBe('revalidate');
    expect(storedResponseUse(m60, cc('max-age=0'), s(1))).toBe('revalidate');
    expect(storedResponseUse(m60, cc('min-fresh=20'), s(40))).toBe('fresh');
    expect(storedResponseUse(m60, cc('min-fresh=20'), s(41))).toBe('revalidate');
  });

  it('serves stale within the request max-stale, unless the response forbids it', () => {
    expect(storedResponseUse(m60, cc('max-stale=30'), s(90))).toBe('stale');
    expect(storedResponseUse(m60, cc('max-stale=30'), s(91))).toBe('revalidate');
    expect(storedResponseUse(m60, cc('max-stale'), s(100_000))).toBe('stale');
    for (const forbid of ['must-revalidate', 'proxy-revalidate', 's-maxage=60']) {
      expect(storedResponseUse(metaOf(res(cc(`max-age=60, ${forbid}`))), cc('max-stale'), s(61))).toBe('revalidate');
    }
  });

  it('serves stale while revalidating within stale-while-revalidate', () => {
    const m = metaOf(res(cc('max-age=60, stale-while-revalidate=30')));
    expect(storedResponseUse(m, [], s(60))).toBe('stale-while-revalidate');
    expect(storedResponseUse(m, [], s(89))).toBe('stale-while-revalidate');
    expect(storedResponseUse(m, [], s(90))).toBe('revalidate');
    // The origin's explicit window also holds with s-maxage; must-revalidate forbids any.
    expect(storedResponseUse(metaOf(res(cc('s-maxage=60, stale-while-revalidate=30'))), [], s(70))).toBe('stale-while-revalidate');
    expect(storedResponseUse(metaOf(res(cc('max-age=60, must-revalidate, stale-while-revalidate=30'))), [], s(70))).toBe('revalidate');
  });

  it('applies the configured default windows only where the response allows stale', () => {
    const opts = { staleWhileRevalidateSeconds: 30, staleIfErrorSeconds: 300 };
    expect(storedResponseUse(metaOf(res(cc('max-age=60')), req(), AT_T0, opts), [], s(70))).toBe('stale-while-revalidate');
    expect(storedResponseUse(metaOf(res(cc('s-maxage=60')), req(), AT_T0, opts), [], s(70))).toBe('revalidate');
    expect(staleIfErrorAllowed(metaOf(res(cc('max-age=60')), req(), AT_T0, opts), [], s(300))).toBe(true);
    expect(staleIfErrorAllowed(metaOf(res(cc('max-age=60, proxy-revalidate')), req(), AT_T0, opts), [], s(61))).toBe(false);
  });

  it('allows stale-if-error within the response or request window, never with must-revalidate (§4.2.4)', () => {
    const m = metaOf(res(cc('max-age=60, stale-if-error=120')));
    expect(staleIfErrorAllowed(m, [], s(179))).toBe(true);
    expect(staleIfErrorAllowed(m, [], s(180))).toBe(false);
    expect(staleIfErrorAllowed(m60, [], s(61))).toBe(false);
    expect(staleIfErrorAllowed(m60, cc('stale-if-error=10'), s(69))).toBe(true);
    expect(staleIfErrorAllowed(metaOf(res(cc('max-age=60, must-revalidate, stale-if-error=120'))), [], s(61))).toBe(false);
    expect(staleIfErrorAllowed(metaOf(res(cc('no-cache, stale-if-error=120'))), [], s(1))).toBe(false);
  });

  it('answers a request with Authorization from the cache only when the response allows it (§3.5)', () => {
    const auth = ['Authorization', 'Basic eDp5'];
    expect(storedResponseUse(m60, auth, s(1))).toBe('revalidate');
    for (const allow of ['public, max-age=60', 's-maxage=60', 'max-age=60, must-revalidate']) {
      expect(storedResponseUse(metaOf(res(cc(allow))), auth, s(1))).toBe('fresh');
    }
  });

  it('answers only-if-cached with a 504 when it cannot serve the stored one (§5.2.1.7)', () => {
    expect(storedResponseUse(m60, cc('only-if-cached'), s(1))).toBe('fresh');
    expect(storedResponseUse(m60, cc('only-if-cached'), s(61))).toBe('gateway-timeout');
    expect(storedResponseUse(m60, cc('only-if-cached, max-stale'), s(61))).toBe('stale');
  });
});

describe('X-Cache-Status', () => {
  it('names what happened', () => {
    expect(cacheStatusOfLookup('fresh')).toBe('HIT');
    expect(cacheStatusOfLookup('stale')).toBe('STALE');
    expect(cacheStatusOfLookup('stale-while-revalidate')).toBe('STALE');
    expect(cacheStatusOfLookup('revalidate')).toBeNull();
    expect(cacheStatusAfterOrigin(false, 'response')).toBe('MISS');
    expect(cacheStatusAfterOrigin(true, 'not-modified')).toBe('REVALIDATED');
    expect(cacheStatusAfterOrigin(true, 'response')).toBe('EXPIRED');
    expect(cacheStatusAfterOrigin(true, 'error', true)).toBe('STALE');
    expect(cacheStatusAfterOrigin(true, 'error', false)).toBe('EXPIRED');
  });
});
