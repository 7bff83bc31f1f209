import type { Session } from '@pingora-ts/proxy';
import { HashKey, isHashKey } from '../src/hash-key';

/** The three things `HashKey.of` reads from a session. */
function session(path: string, rawHeaders: string[] = [], clientAddr = '192.0.2.7'): Session {
  return { path, rawHeaders, clientAddr } as unknown as Session;
}

test.each([
  ['uri', session('/a/b?x=1&y=2'), '/a/b?x=1&y=2'],
  ['path', session('/a/b?x=1&y=2'), '/a/b'],
  ['path', session('/a/b'), '/a/b'],
  ['client_ip', session('/'), '192.0.2.7'],
  ['client_ip', session('/', [], ''), null],
  ['header:X-User', session('/', ['Host', 'h', 'x-USER', ' ann ', 'X-User', 'bob']), 'ann'],
  ['header:X-User', session('/', ['Host', 'h']), null],
  ['header:X-User', session('/', ['X-User', '']), null],
  ['cookie:sid', session('/', ['Cookie', 'a=1; sid=abc; z=2']), 'abc'],
  ['cookie:sid', session('/', ['cookie', 'a=1', 'cookie', 'sid=xyz']), 'xyz'],
  ['cookie:sid', session('/', ['Cookie', 'xsid=1; sidx=2']), null],
  ['query:id', session('/p?x=1&id=42&id=43'), '42'],
  ['query:id', session('/p?xid=1&idx=2'), null],
  ['query:id', session('/p?id=a%20b#frag'), 'a%20b'],
  ['query:id', session('/p'), null],
])('%s of %j is %j', (spec, s, want) => {
  expect(isHashKey(spec)).toBe(true);
  expect(new HashKey(spec).of(s)).toBe(want);
});

test.each(['', 'url', 'header:', 'header:a b', 'cookie', 'query:a=b', 'ip'])('%j is not a hash key', (spec) => {
  expect(isHashKey(spec)).toBe(false);
  expect(() => new HashKey(spec)).toThrow(/invalid hash_key/);
});
