import { responseCacheable, storable } from '../../src/http';
import { AT_T0, req, res } from './fixtures';

const verdict = (request: ReturnType<typeof req>, response: ReturnType<typeof res>) => {
  const v = storable(request, response);
  return v.storable ? 'yes' : v.reason;
};

describe('storable for a shared cache (RFC 9111 §3)', () => {
  it('stores GET responses with a heuristically cacheable status and no directives', () => {
    for (const status of [200, 203, 204, 300, 301, 308, 404, 405, 410, 414, 501]) expect(verdict(req(), res([], status))).toBe('yes');
  });

  it('stores other understood statuses only with explicit freshness or public', () => {
    for (const status of [302, 303, 307]) {
      expect(verdict(req(), res([], status))).toBe('no-explicit-freshness');
      expect(verdict(req(), res(['Cache-Control', 'max-age=60'], status))).toBe('yes');
      expect(verdict(req(), res(['Cache-Control', 's-maxage=60'], status))).toBe('yes');
      expect(verdict(req(), res(['Expires', 'Thu, 01 Jan 2099 00:00:00 GMT'], status))).toBe('yes');
      expect(verdict(req(), res(['Cache-Control', 'public'], status))).toBe('yes');
    }
  });

  it('never stores 206, 304, 1xx or statuses it does not understand', () => {
    for (const status of [100, 206, 304, 500, 502, 299, 599]) expect(verdict(req(), res(['Cache-Control', 'max-age=60'], status))).toBe('status');
  });

  it('stores only GET (HEAD is served from the GET; unsafe methods are not stored)', () => {
    for (const m of ['HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS']) expect(verdict(req([], m), res(['Cache-Control', 'max-age=60']))).toBe('method');
  });

  it('honours no-store in request and response, over any other directive', () => {
    expect(verdict(req(['Cache-Control', 'no-store']), res(['Cache-Control', 'max-age=60']))).toBe('request-no-store');
    expect(verdict(req(), res(['Cache-Control', 'public, max-age=60, no-store']))).toBe('response-no-store');
  });

  it('lets must-understand override no-store for an understood status (§5.2.2.3)', () => {
    expect(verdict(req(), res(['Cache-Control', 'must-understand, no-store, max-age=60']))).toBe('yes');
    expect(verdict(req(), res(['Cache-Control', 'must-understand, no-store, max-age=60'], 299))).toBe('status');
  });

  it('does not store private (unqualified), even with public; stores qualified private without those fields', () => {
    expect(verdict(req(), res(['Cache-Control', 'private, max-age=60']))).toBe('private');
    expect(verdict(req(), res(['Cache-Control', 'public, private']))).toBe('private');
    expect(verdict(req(), res(['Cache-Control', 'private="Set-Cookie", max-age=60']))).toBe('yes');
  });

  it('stores a response to a request with Authorization only with must-revalidate, public or s-maxage (§3.5)', () => {
    const auth = req(['Authorization', 'Bearer x']);
    expect(verdict(auth, res())).toBe('authorization');
    expect(verdict(auth, res(['Cache-Control', 'max-age=60']))).toBe('authorization');
    expect(verdict(auth, res(['Cache-Control', 's-maxage=60']))).toBe('yes');
    expect(verdict(auth, res(['Cache-Control', 'public, max-age=60']))).toBe('yes');
    expect(verdict(auth, res(['Cache-Control', 'must-revalidate, max-age=60']))).toBe('yes');
  });

  it('does not store Vary: * (it can never match, §4.1)', () => {
    expect(verdict(req(), res(['Vary', 'Accept-Encoding, *', 'Cache-Control', 'max-age=60']))).toBe('vary-star');
  });

  it('stores no-cache responses (they are revalidated on each use)', () => {
    expect(verdict(req(), res(['Cache-Control', 'no-cache, max-age=60']))).toBe('yes');
  });
});

describe('responseCacheable: what a shared cache keeps out beyond the RFC', () => {
  it('does not store a response that sets a cookie, however cacheable', () => {
    const r = responseCacheable(req(), res(['Cache-Control', 'public, max-age=60', 'Set-Cookie', 'session=alice']), AT_T0);
    expect(r).toEqual({ cacheable: false, reason: 'set-cookie' });
  });

  it('does not store a response that could only be served stale: no freshness, no validator, no stale window', () => {
    expect(responseCacheable(req(), res([]), AT_T0)).toEqual({ cacheable: false, reason: 'never-fresh' });
    expect(responseCacheable(req(), res(['Cache-Control', 'max-age=0']), AT_T0)).toEqual({ cacheable: false, reason: 'never-fresh' });
    expect(responseCacheable(req(), res(['Cache-Control', 'max-age=60', 'Age', '90']), AT_T0)).toEqual({ cacheable: false, reason: 'never-fresh' });
    // A validator makes it worth keeping (revalidated with a 304), as does a stale-if-error window.
    expect(responseCacheable(req(), res(['Cache-Control', 'no-cache', 'ETag', '"a"']), AT_T0).cacheable).toBe(true);
    expect(responseCacheable(req(), res(['Cache-Control', 'max-age=0, stale-if-error=60']), AT_T0).cacheable).toBe(true);
    expect(responseCacheable(req(), res([]), AT_T0, { defaultTtlSeconds: 60 }).cacheable).toBe(true);
  });
});
