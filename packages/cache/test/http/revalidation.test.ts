import { evaluateClientConditional, fillRequestHeaders, formatHttpDate, freshenWith304, hasValidator, notModifiedHeaders, storedResponseUse, validatorFields } from '../../src/http';
import { AT_T0, metaOf, res, s } from './fixtures';

const LM = formatHttpDate(s(-3600));

describe('conditional requests to the origin (RFC 9111 §4.3.1)', () => {
  const stored = metaOf(res(['Cache-Control', 'max-age=60', 'ETag', '"v1"', 'Last-Modified', LM]));

  it('sends If-None-Match from ETag and If-Modified-Since from Last-Modified', () => {
    expect(validatorFields(stored)).toEqual(['If-None-Match', '"v1"', 'If-Modified-Since', LM]);
    expect(hasValidator(stored)).toBe(true);
    expect(hasValidator(metaOf(res(['Cache-Control', 'max-age=60'])))).toBe(false);
  });

  it("drops the client's own preconditions and Range from a fill, keeping the rest", () => {
    const client = ['Host', 'example.com', 'If-None-Match', '"mine"', 'If-Modified-Since', LM, 'Range', 'bytes=0-1', 'If-Range', '"v1"', 'If-Match', '*', 'Accept', '*/*'];
    expect(fillRequestHeaders(client, null)).toEqual(['Host', 'example.com', 'Accept', '*/*']);
    expect(fillRequestHeaders(client, stored)).toEqual(['Host', 'example.com', 'Accept', '*/*', 'If-None-Match', '"v1"', 'If-Modified-Since', LM]);
  });
});

describe('freshening with a 304 (RFC 9111 §4.3.4, §3.2)', () => {
  const stored = metaOf(res(['Cache-Control', 'max-age=60', 'ETag', '"v1"', 'Content-Length', '5', 'Content-Type', 'text/plain', 'X-Old', 'a']));

  it('replaces the stored fields with the 304 ones and restarts freshness', () => {
    const fresh = freshenWith304(
      stored,
      { status: 304, headers: ['Date', formatHttpDate(s(100)), 'Cache-Control', 'max-age=120', 'ETag', '"v1"', 'X-New', 'b', 'Content-Length', '0', 'Connection', 'close'] },
      { requestTime: s(100), responseTime: s(100) },
    );
    expect(fresh).not.toBeNull();
    const m = fresh!;
    expect(m.status).toBe(200);
    expect(m.freshnessLifetime).toBe(120);
    expect(storedResponseUse(m, [], s(219))).toBe('fresh');
    const fields = Object.fromEntries(m.headers.flatMap((v, i, a) => (i % 2 === 0 ? [[v.toLowerCase(), a[i + 1]]] : [])));
    expect(fields).toMatchObject({ 'cache-control': 'max-age=120', 'content-length': '5', 'content-type': 'text/plain', 'x-old': 'a', 'x-new': 'b', date: formatHttpDate(s(100)) });
    expect(fields.connection).toBeUndefined();
  });

  it("never takes Set-Cookie from a 304: one client's cookie does not enter the shared head", () => {
    const fresh = freshenWith304(stored, { status: 304, headers: ['ETag', '"v1"', 'Set-Cookie', 'session=bob'] }, AT_T0)!;
    expect(fresh.headers.map((h) => h.toLowerCase())).not.toContain('set-cookie');
  });

  it('does not use a 304 whose ETag names another representation', () => {
    expect(freshenWith304(stored, { status: 304, headers: ['ETag', '"v2"'] }, AT_T0)).toBeNull();
    expect(freshenWith304(stored, { status: 304, headers: ['ETag', 'W/"v1"'] }, AT_T0)).not.toBeNull();
  });
});

describe("a client's conditional request answered from the cache (RFC 9110 §13)", () => {
  const stored = metaOf(res(['Cache-Control', 'max-age=60', 'ETag', 'W/"v1"', 'Last-Modified', LM, 'Content-Type', 'text/plain']));

  it('If-None-Match uses the weak comparison, and * matches', () => {
    expect(evaluateClientConditional('GET', ['If-None-Match', '"v1"'], stored)).toBe(304);
    expect(evaluateClientConditional('GET', ['If-None-Match', '"x", W/"v1"'], stored)).toBe(304);
    expect(evaluateClientConditional('HEAD', ['If-None-Match', '*'], stored)).toBe(304);
    expect(evaluateClientConditional('GET', ['If-None-Match', '"v2"'], stored)).toBe(200);
  });

  it('If-None-Match wins over If-Modified-Since', () => {
    expect(evaluateClientConditional('GET', ['If-None-Match', '"v2"', 'If-Modified-Since', formatHttpDate(s(0))], stored)).toBe(200);
  });

  it('If-Modified-Since compares with Last-Modified; an invalid date is ignored', () => {
    expect(evaluateClientConditional('GET', ['If-Modified-Since', LM], stored)).toBe(304);
    expect(evaluateClientConditional('GET', ['If-Modified-Since', formatHttpDate(s(-7200))], stored)).toBe(200);
    expect(evaluateClientConditional('GET', ['If-Modified-Since', 'yesterday'], stored)).toBe(200);
    expect(evaluateClientConditional('POST', ['If-None-Match', '*'], stored)).toBe(200);
  });

  it('a 304 carries the caching and validator fields, not the content ones', () => {
    const h = notModifiedHeaders(['Content-Type', 'text/plain', 'ETag', '"v1"', 'Cache-Control', 'max-age=60', 'Content-Length', '5', 'Age', '3']);
    expect(h).toEqual(['ETag', '"v1"', 'Cache-Control', 'max-age=60', 'Age', '3']);
  });
});
