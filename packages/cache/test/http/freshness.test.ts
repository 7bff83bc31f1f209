import { ageHeaderValue, currentAge, formatHttpDate, hitHeaders, isFresh, resolvePolicyOptions, responseCacheable } from '../../src/http';
import { AT_T0, metaOf, req, res, s, T0 } from './fixtures';

describe('freshness lifetime (RFC 9111 §4.2.1)', () => {
  it('prefers s-maxage over max-age over Expires', () => {
    const exp = ['Expires', formatHttpDate(s(30))];
    expect(metaOf(res(['Cache-Control', 's-maxage=10, max-age=20', ...exp])).freshnessLifetime).toBe(10);
    expect(metaOf(res(['Cache-Control', 'max-age=20', ...exp])).freshnessLifetime).toBe(20);
    expect(metaOf(res(exp)).freshnessLifetime).toBe(30);
  });

  it('computes Expires − Date, using the response time when Date is absent', () => {
    const m = metaOf({ status: 200, headers: ['Expires', formatHttpDate(s(100))] }, req(), { requestTime: s(40), responseTime: s(40) });
    expect(m.freshnessLifetime).toBe(60);
  });

  it('treats an invalid, past or repeated Expires as stale, not as an error', () => {
    expect(metaOf(res(['Expires', '0'])).freshnessLifetime).toBe(0);
    expect(metaOf(res(['Expires', 'not a date'])).freshnessLifetime).toBe(0);
    expect(metaOf(res(['Expires', formatHttpDate(s(-60))])).freshnessLifetime).toBe(0);
    expect(metaOf(res(['Expires', formatHttpDate(s(60)), 'Expires', formatHttpDate(s(120))])).freshnessLifetime).toBe(0);
  });

  it('uses a heuristic of 10 % of the Last-Modified age, capped, only where allowed (§4.2.2)', () => {
    const lm = ['Last-Modified', formatHttpDate(s(-10_000))];
    expect(metaOf(res(lm)).freshnessLifetime).toBe(1000);
    expect(metaOf(res(lm), req(), AT_T0, { heuristicMaxSeconds: 300 }).freshnessLifetime).toBe(300);
    expect(metaOf(res(lm), req(), AT_T0, { heuristicFraction: 0.2 }).freshnessLifetime).toBe(2000);
    // 302 is not heuristically cacheable: with `public` it may be stored and judged heuristically.
    expect(metaOf(res(['Cache-Control', 'public', ...lm], 302)).freshnessLifetime).toBe(1000);
    // Explicit freshness is never replaced by a heuristic.
    expect(metaOf(res(['Cache-Control', 'max-age=0', ...lm])).freshnessLifetime).toBe(0);
  });

  it('uses defaultTtlSeconds when a heuristic is allowed but there is no Last-Modified (0 by default)', () => {
    expect(metaOf(res()).freshnessLifetime).toBe(0);
    expect(metaOf(res(), req(), AT_T0, { defaultTtlSeconds: 120 }).freshnessLifetime).toBe(120);
    expect(metaOf(res(['Cache-Control', 'max-age=5']), req(), AT_T0, { defaultTtlSeconds: 120 }).freshnessLifetime).toBe(5);
  });

  it('rejects bad options with the option named', () => {
    expect(() => resolvePolicyOptions({ defaultTtlSeconds: -1 })).toThrow(/defaultTtlSeconds/);
    expect(() => resolvePolicyOptions({ heuristicFraction: 2 })).toThrow(/heuristicFraction/);
    expect(() => resolvePolicyOptions({ ttl: 5 } as never)).toThrow(/unknown HTTP cache option "ttl"/);
    expect(() => responseCacheable(req(), res(), AT_T0, { staleIfErrorSeconds: Number.NaN })).toThrow(/staleIfErrorSeconds/);
  });
});

describe('current age (RFC 9111 §4.2.3)', () => {
  it('takes the larger of the apparent age and the corrected Age, plus the resident time', () => {
    // Date 10 s before the response arrived; Age: 5 from upstream; the request took 2 s.
    const m = metaOf({ status: 200, headers: ['Date', formatHttpDate(s(-10)), 'Age', '5', 'Cache-Control', 'max-age=60'] }, req(), { requestTime: s(-2), responseTime: T0 });
    expect(currentAge(m, T0)).toBe(10); // max(10, 5 + 2)
    expect(currentAge(m, s(20))).toBe(30);
    const aged = metaOf({ status: 200, headers: ['Date', formatHttpDate(T0), 'Age', '50', 'Cache-Control', 'max-age=60'] }, req(), { requestTime: s(-2), responseTime: T0 });
    expect(currentAge(aged, T0)).toBe(52); // Age + response delay
    expect(isFresh(aged, s(7))).toBe(true);
    expect(isFresh(aged, s(8))).toBe(false);
  });

  it('ignores an invalid Age and a Date in the future', () => {
    const m = metaOf({ status: 200, headers: ['Date', formatHttpDate(s(100)), 'Age', 'x', 'Cache-Control', 'max-age=60'] });
    expect(currentAge(m, T0)).toBe(0);
  });

  it('sends Age on a hit as whole seconds, and does not store the upstream Age', () => {
    const m = metaOf(res(['Age', '3', 'Cache-Control', 'max-age=60']));
    expect(m.headers).not.toContain('Age');
    expect(ageHeaderValue(m, s(4.9))).toBe('7');
    const h = hitHeaders(m, s(1));
    expect(h.slice(-2)).toEqual(['Age', '4']);
  });

  it('does not store hop-by-hop fields or fields named by Connection', () => {
    const m = metaOf(res(['Connection', 'X-Trace', 'X-Trace', '1', 'Keep-Alive', 'timeout=5', 'Transfer-Encoding', 'chunked', 'ETag', '"a"']));
    expect(m.headers.map((x) => x.toLowerCase())).toEqual(['date', m.headers[1]!.toLowerCase(), 'etag', '"a"']);
  });

  it('drops qualified private and no-cache fields from what is stored (§5.2.2.4, §5.2.2.7)', () => {
    const m = metaOf(res(['Cache-Control', 'private="Set-Cookie", no-cache="X-Secret", max-age=60', 'Set-Cookie', 'a=1', 'X-Secret', 'y', 'X-Ok', 'z']));
    const names = m.headers.filter((_, i) => i % 2 === 0).map((n) => n.toLowerCase());
    expect(names).toEqual(['date', 'cache-control', 'x-ok']);
    expect(m.noCache).toBe(false);
  });
});
