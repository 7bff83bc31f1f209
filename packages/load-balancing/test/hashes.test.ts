import { crc32 as zlibCrc32 } from 'node:zlib';
import { Backend, FnvHash, Ketama } from '@pingora-ts/load-balancing';
import { crc32 } from '../src/internal/crc32';
import { fnv1a64Hex, fnv1a64Mod } from '../src/internal/fnv1a64';

const KEYS = ['', 'a', 'foobar', '/index.html?x=1', 'héllo', '日本語', '😀 emoji', 'lone \ud800 surrogate', 'x'.repeat(1000)];

describe('CRC-32', () => {
  it.each(KEYS)('agrees with zlib on the UTF-8 bytes of key #%#, as a string and as bytes', (key) => {
    const bytes = new TextEncoder().encode(key);
    expect(crc32(key)).toBe(zlibCrc32(Buffer.from(bytes)));
    expect(crc32(bytes)).toBe(zlibCrc32(Buffer.from(bytes)));
  });
});

describe('FNV-1a 64', () => {
  // Reference values of the 64-bit FNV-1a (Landon Curt Noll's test vectors).
  it.each([
    ['', 'cbf29ce484222325'],
    ['a', 'af63dc4c8601ec8c'],
    ['foobar', '85944171f73967e8'],
  ])('of %j is %s', (key, hex) => expect(fnv1a64Hex(key)).toBe(hex));

  it('takes the 64-bit hash modulo n exactly (checked with BigInt)', () => {
    for (const key of KEYS) {
      const h = BigInt(`0x${fnv1a64Hex(key)}`);
      for (const n of [1, 2, 3, 7, 12, 1000, 65537, 2 ** 31 - 1, 2 ** 36 + 5]) expect(fnv1a64Mod(key, n)).toBe(Number(h % BigInt(n)));
      expect(fnv1a64Hex(new TextEncoder().encode(key))).toBe(fnv1a64Hex(key));
    }
  });
});

describe('agreement with Pingora', () => {
  it('Ketama: the vectors of pingora-load-balancing consistent.rs test_ketama', () => {
    const b1 = new Backend('1.1.1.1:80');
    const b2 = new Backend('1.0.0.1:80');
    const b3 = new Backend('1.0.0.255:80');
    // Pingora keeps backends in a BTreeSet (sorted by address); the ring does not depend on order.
    const pick = (list: Backend[], key: string) => new Ketama().build(list).iter(key).next();
    const all = [b2, b3, b1];
    expect(['test0', 'test1', 'test2', 'test3', 'test4', 'test5', 'test6', 'test7', 'test8', 'test9'].map((k) => pick(all, k))).toEqual([
      b2, b1, b1, b1, b1, b3, b1, b3, b1, b2,
    ]);
    const two = [b2, b1];
    expect(['test0', 'test1', 'test2', 'test3', 'test4', 'test5', 'test6', 'test7', 'test8', 'test9'].map((k) => pick(two, k))).toEqual([
      b2, b1, b1, b1, b1, b2, b1, b1, b1, b2,
    ]);
  });

  it('FnvHash: the heaviest backend first, as Pingora weighted.rs test_fnv ("test" goes to the weight-10 backend)', () => {
    const b1 = new Backend('1.1.1.1:80', 1);
    const b2 = new Backend('1.0.0.1:80', 10);
    const b3 = new Backend('1.0.0.255:80', 1);
    for (const list of [[b1, b2, b3], [b3, b1, b2], [b2, b3, b1]]) expect(new FnvHash().build(list).iter('test').next()).toBe(b2);
  });
});
