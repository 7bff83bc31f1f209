import type { SelectionKey } from '../selection/selection-algorithm';

// FNV-1a, 64-bit (the `fnv` crate's `FnvHasher`, which Pingora's `FNVHash` uses), computed in
// four 16-bit limbs held in local variables: small integers only, so no BigInt and no boxed
// number is allocated per byte. The prime 2^40 + 0x1b3 has limbs (0x1b3, 0, 0x100, 0).

// The state after `hashKey`, and during the rare multi-byte characters (all synchronous).
let s0 = 0;
let s1 = 0;
let s2 = 0;
let s3 = 0;

/** Feeds one byte into the state limbs. */
function stateByte(b: number): void {
  const l0 = s0 ^ b;
  const t0 = l0 * 0x1b3;
  const t1 = s1 * 0x1b3 + (t0 >>> 16);
  const t2 = s2 * 0x1b3 + l0 * 0x100 + (t1 >>> 16);
  const t3 = s3 * 0x1b3 + s1 * 0x100 + (t2 >>> 16);
  s0 = t0 & 0xffff;
  s1 = t1 & 0xffff;
  s2 = t2 & 0xffff;
  s3 = t3 & 0xffff;
}

/** Feeds the UTF-8 bytes of the (non-ASCII) character at `key[i]` into the state; returns the next index. */
function stateChar(key: string, i: number): number {
  let c = key.charCodeAt(i);
  if (c < 0x800) {
    stateByte(0xc0 | (c >> 6));
    stateByte(0x80 | (c & 0x3f));
    return i + 1;
  }
  if (c >= 0xd800 && c <= 0xdfff) {
    const next = i + 1 < key.length ? key.charCodeAt(i + 1) : 0;
    if (c <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
      c = 0x10000 + ((c - 0xd800) << 10) + (next - 0xdc00);
      stateByte(0xf0 | (c >> 18));
      stateByte(0x80 | ((c >> 12) & 0x3f));
      stateByte(0x80 | ((c >> 6) & 0x3f));
      stateByte(0x80 | (c & 0x3f));
      return i + 2;
    }
    c = 0xfffd; // a lone surrogate, as TextEncoder encodes it
  }
  stateByte(0xe0 | (c >> 12));
  stateByte(0x80 | ((c >> 6) & 0x3f));
  stateByte(0x80 | (c & 0x3f));
  return i + 1;
}

/** Hashes the UTF-8 bytes of `key` into the state limbs. */
function hashKey(key: SelectionKey): void {
  // Offset basis 0xcbf29ce484222325.
  let h0 = 0x2325;
  let h1 = 0x8422;
  let h2 = 0x9ce4;
  let h3 = 0xcbf2;
  const isString = typeof key === 'string';
  let i = 0;
  while (i < key.length) {
    const b = isString ? key.charCodeAt(i) : key[i]!;
    if (b >= 0x80 && isString) {
      s0 = h0;
      s1 = h1;
      s2 = h2;
      s3 = h3;
      i = stateChar(key, i);
      h0 = s0;
      h1 = s1;
      h2 = s2;
      h3 = s3;
      continue;
    }
    const l0 = h0 ^ b;
    const t0 = l0 * 0x1b3;
    const t1 = h1 * 0x1b3 + (t0 >>> 16);
    const t2 = h2 * 0x1b3 + l0 * 0x100 + (t1 >>> 16);
    const t3 = h3 * 0x1b3 + h1 * 0x100 + (t2 >>> 16);
    h0 = t0 & 0xffff;
    h1 = t1 & 0xffff;
    h2 = t2 & 0xffff;
    h3 = t3 & 0xffff;
    i++;
  }
  s0 = h0;
  s1 = h1;
  s2 = h2;
  s3 = h3;
}

/** FNV-1a 64 of the UTF-8 bytes of `key`, modulo `n` (1 ≤ n < 2^37): Rust's `hash % n` on the u64. */
export function fnv1a64Mod(key: SelectionKey, n: number): number {
  hashKey(key);
  // Horner over the limbs, reducing at each step: every intermediate stays below 2^53.
  let r = s3 % n;
  r = (r * 0x10000 + s2) % n;
  r = (r * 0x10000 + s1) % n;
  return (r * 0x10000 + s0) % n;
}

/** FNV-1a 64 of `key` as a 16-digit hex string (for tests against known vectors). */
export function fnv1a64Hex(key: SelectionKey): string {
  hashKey(key);
  return [s3, s2, s1, s0].map((l) => l.toString(16).padStart(4, '0')).join('');
}
