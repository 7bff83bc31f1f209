import { CacheKeyTemplate, keyString, parseVary, varianceKey } from '../../src/http';
import { req } from './fixtures';

describe('primary keys', () => {
  const t = new CacheKeyTemplate();

  it('names scheme, host and path with query, the same for GET and HEAD', () => {
    expect(t.primaryKey(req())).toBe('https://example.com/a?b=1');
    expect(t.primaryKey(req([], 'HEAD'))).toBe(t.primaryKey(req([], 'GET')));
  });

  it('normalises the host: lower case, default port dropped', () => {
    const r = { ...req(), authority: 'EXAMPLE.com:443' };
    expect(t.primaryKey(r)).toBe('https://example.com/a?b=1');
    expect(t.primaryKey({ ...r, scheme: 'http', authority: 'Example.com:80' })).toBe('http://example.com/a?b=1');
    expect(t.primaryKey({ ...r, authority: 'example.com:8443' })).toBe('https://example.com:8443/a?b=1');
  });

  it('follows a template with $uri, $args and request headers', () => {
    expect(new CacheKeyTemplate('$host$uri').primaryKey(req())).toBe('example.com/a');
    expect(new CacheKeyTemplate('${host}|$args|$http_x_tenant').primaryKey(req(['X-Tenant', 't1']))).toBe('example.com|b=1|t1');
  });

  it('rejects an unknown variable, naming the option', () => {
    expect(() => new CacheKeyTemplate('$scheme$hots$uri')).toThrow(/cache option "key": unknown variable "\$hots"/);
    expect(() => new CacheKeyTemplate('')).toThrow(/"key"/);
  });

  it('has a string form that keeps variants apart', () => {
    expect(keyString({ primary: 'p', variance: null })).toBe('p');
    expect(keyString({ primary: 'p', variance: 'accept-encoding=gzip\n' })).not.toBe(keyString({ primary: 'p', variance: null }));
  });
});

describe('Vary and secondary keys (RFC 9111 §4.1)', () => {
  it('parses Vary names: lower case, sorted, deduplicated, several lines', () => {
    expect(parseVary(['Vary', 'User-Agent, accept-encoding', 'vary', 'Accept-Encoding'])).toEqual({ any: false, names: ['accept-encoding', 'user-agent'] });
    expect(parseVary(['Vary', '*']).any).toBe(true);
    expect(parseVary([]).names).toEqual([]);
  });

  it('has no variance without Vary names', () => {
    expect(varianceKey([], ['Accept-Encoding', 'gzip'])).toBeNull();
  });

  it('gives equal keys to requests that differ only in whitespace, line splitting or coding case', () => {
    const names = ['accept-encoding', 'accept-language'];
    const a = varianceKey(names, ['Accept-Encoding', 'gzip,  br', 'Accept-Language', 'en-US']);
    const b = varianceKey(names, ['accept-encoding', ' GZIP', 'Accept-Encoding', 'br ', 'accept-language', 'en-us']);
    expect(a).toBe(b);
  });

  it('normalises list values: items trimmed, empty items dropped, inner spaces folded', () => {
    const k = (v: string) => varianceKey(['x-list'], ['X-List', v]);
    expect(k('a,b c')).toBe('x-list=a,b c\n');
    for (const v of [' a ,  b   c ', 'a,,b \t c,', ',a, b  c', 'a ,b\tc']) expect(k(v)).toBe('x-list=a,b c\n');
  });

  it('keeps an absent field apart from an empty one and from other values', () => {
    const names = ['accept-encoding'];
    const absent = varianceKey(names, []);
    const empty = varianceKey(names, ['Accept-Encoding', '']);
    const gzip = varianceKey(names, ['Accept-Encoding', 'gzip']);
    expect(new Set([absent, empty, gzip]).size).toBe(3);
  });

  it('keeps case for fields whose values are case-sensitive', () => {
    expect(varianceKey(['x-user'], ['X-User', 'Alice'])).not.toBe(varianceKey(['x-user'], ['X-User', 'alice']));
  });
});
