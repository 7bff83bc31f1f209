import { Backend, MAX_BACKEND_WEIGHT } from '@pingora-ts/load-balancing';
import { ProxyError } from '@pingora-ts/core';

describe('Backend', () => {
  it('parses IPv4, host names and bracketed IPv6', () => {
    const v4 = new Backend('127.0.0.1:8080');
    expect([v4.addr, v4.host, v4.port, v4.weight, v4.key]).toEqual(['127.0.0.1:8080', '127.0.0.1', 8080, 1, '127.0.0.1:8080']);
    const name = new Backend('api.internal:443', 3);
    expect([name.host, name.port, name.weight]).toEqual(['api.internal', 443, 3]);
    const v6 = new Backend('[::1]:9000');
    expect([v6.addr, v6.host, v6.port]).toEqual(['[::1]:9000', '::1', 9000]);
    expect(String(v6)).toBe('[::1]:9000');
  });

  it('carries user data in ext', () => {
    const b = new Backend('127.0.0.1:1');
    b.ext.set('sni', 'example.org');
    expect(b.ext.get('sni')).toBe('example.org');
  });

  it.each([
    ['', /expected "host:port"/],
    ['127.0.0.1', /missing ":port"/],
    [':80', /missing host/],
    ['::1:80', /IPv6 address in brackets/],
    ['[::1]80', /expected "\[ipv6\]:port"/],
    ['[nope]:80', /not an IPv6 address/],
    ['999.1.1.1:80', /not an IPv4 address or a host name/],
    ['bad host:80', /not an IPv4 address or a host name/],
    ['127.0.0.1:http', /port "http" is not a number/],
    ['127.0.0.1:0', /out of range/],
    ['127.0.0.1:65536', /out of range/],
  ])('rejects the address %j', (addr, message) => {
    expect(() => new Backend(addr)).toThrow(message);
  });

  it.each([0, -1, 1.5, Number.NaN, MAX_BACKEND_WEIGHT + 1])('rejects the weight %p', (weight) => {
    expect(() => new Backend('127.0.0.1:80', weight)).toThrow(/invalid weight/);
  });

  it('throws ConfigError ProxyErrors', () => {
    try {
      new Backend('nope');
      throw new Error('unreachable');
    } catch (err) {
      expect(ProxyError.isProxyError(err)).toBe(true);
      expect((err as ProxyError).kind).toBe('ConfigError');
    }
  });
});
