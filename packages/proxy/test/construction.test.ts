import { HOOK_NAMES, HttpPeer, HttpProxy, type ProxyHttp } from '@pingora-ts/proxy';

const peer = new HttpPeer('127.0.0.1:8080');
const base = { newCtx: () => null, upstreamPeer: () => peer };
const opts = { listeners: [{ addr: '127.0.0.1:0' }] };

test('a misspelt hook throws when the proxy is built', () => {
  const app = { ...base, requestFiltr: () => false };
  expect(() => new HttpProxy('p', app as ProxyHttp<null>, opts)).toThrow('unknown ProxyHttp hook "requestFiltr"; did you mean "requestFilter"?');
  expect(() => new HttpProxy('p', { ...base, upstreamPeers: () => peer } as ProxyHttp<null>, opts)).toThrow('did you mean "upstreamPeer"');
  expect(() => new HttpProxy('p', { ...base, reponseBodyFilter: () => null } as ProxyHttp<null>, opts)).toThrow('did you mean "responseBodyFilter"');
});

test('misspelt hooks on a class prototype are found too; unrelated helpers are fine', () => {
  class App implements ProxyHttp<null> {
    newCtx(): null {
      return null;
    }
    upstreamPeer(): HttpPeer {
      return this.pick();
    }
    pick(): HttpPeer {
      return peer;
    }
    loging(): void {}
  }
  expect(() => new HttpProxy('p', new App(), opts)).toThrow('did you mean "logging"');
  class Fine extends App {
    override loging = undefined as never;
  }
  expect(() => new HttpProxy('p', new Fine(), opts)).not.toThrow();
});

test('missing required hooks and non-function hooks throw', () => {
  expect(() => new HttpProxy('p', { newCtx: () => null } as unknown as ProxyHttp<null>, opts)).toThrow('missing the required hook "upstreamPeer"');
  expect(() => new HttpProxy('p', { ...base, logging: 'yes' } as unknown as ProxyHttp<null>, opts)).toThrow('hook "logging" must be a function');
});

test('HOOK_NAMES lists every hook in call order', () => {
  expect(HOOK_NAMES[0]).toBe('newCtx');
  expect(HOOK_NAMES[HOOK_NAMES.length - 1]).toBe('logging');
  expect(HOOK_NAMES).toHaveLength(24);
});

test('options are validated; unknown keys name their path', () => {
  expect(() => new HttpProxy('p', base, { ...opts, maxRetrys: 3 } as never)).toThrow('unknown HttpProxy option "maxRetrys"');
  expect(() => new HttpProxy('p', base, { listeners: [{ addr: '127.0.0.1:0', tls: true }] } as never)).toThrow('"listeners[0].tls"');
  expect(() => new HttpProxy('p', base, { listeners: [] })).toThrow('at least one');
  expect(() => new HttpProxy('p', base, { listeners: [{ addr: 'nope' }] })).toThrow('listeners[0].addr');
  expect(() => new HttpProxy('p', base, { ...opts, maxRetries: -1 })).toThrow('"maxRetries" must be an integer >= 0');
  expect(() => new HttpProxy('p', base, { ...opts, pool: { size: 0 } })).toThrow('positive integer');
});

test('HttpPeer checks its address and options and computes its pool key once', () => {
  expect(() => new HttpPeer('localhost')).toThrow('invalid peer address "localhost"');
  expect(() => new HttpPeer('h:99999')).toThrow('invalid peer address');
  expect(() => new HttpPeer('h:80', false, '', { readTimeout: 5 } as never)).toThrow('unknown PeerOptions key "readTimeout"');
  expect(() => new HttpPeer('h:80', false, '', { readTimeoutMs: -1 })).toThrow('readTimeoutMs');
  const v6 = new HttpPeer('[::1]:8443', true, 'api.example', { verifyHostname: false });
  expect([v6.host, v6.port, v6.tls, v6.sni, v6.verifyHostname, v6.options.readTimeoutMs]).toEqual(['::1', 8443, true, 'api.example', false, 60000]);
  expect(v6.poolKey).not.toBe(new HttpPeer('[::1]:8443', true, 'api.example').poolKey);
  expect(String(v6)).toBe('https://[::1]:8443');
  const fromConfig = new HttpPeer('h:80', false, '', { readTimeoutMs: undefined, connectionTimeoutMs: undefined });
  expect(fromConfig.options.readTimeoutMs).toBe(60000);
});

test('addresses() is empty before listen()', () => {
  expect(new HttpProxy('p', base, opts).addresses()).toEqual([]);
});
