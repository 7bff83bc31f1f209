import type { SelectionKey } from '../selection/selection-algorithm';

// FNV-1a, 64-bit (the `fnv` crate's `FnvHasher`, which Pingora's `FNVHash` uses), computed in
// four 16-bit limbs so no BigInt is allocated per key. The prime 2^40 + 0x1b3 has limbs
// (0x1b3, 0, 0x100, 0). The state lives here between the calls of one hash (all synchronous).
let h0 = 0;
let h1 = 0;
let h2 = 0;
let h3 = 0;

function fnvByte(b: number): void {
  const l0 = h0 ^ b;
  const t0 = l0 * 0x1b3;
  const t1 = h1 * 0x1b3 + (t0 >>> 16);
  const t2 = h2 * 0x1b3 + l0 * 0x100 + (t1 >>> 16);
  const t3 = h3 * 0x1b3 + h1 * 0x100 + (t2 >>> 16);
  h0 = t0 & 0xffff;
  h1 = t1 & 0xffff;
  h2 = t2 & 0xffff;
  h3 = t3 & 0xffff;
}

function hashKey(key: SelectionKey): void {
  // Offset basis 0xcbf29ce484222325.
  h0 = 0x2325;
  h1 = 0x8422;
  h2 = 0x9ce4;
  h3 = 0xcbf2;
  if (typeof key !== 'string') {
    for (let i = 0; i < key.length; i++) fnvByte(key[i]!);
    return;
  }
  for (let i = 0; i < key.length; i++) {
    let c = key.charCodeAt(i);
    if (c < 0x80) {
      fnvByte(c);
      continue;
    }
    if (c < 0x800) {
      fnvByte(0xc0 | (c >> 6));
      fnvByte(0x80 | (c & 0x3f));
      continue;
    }
    if (c >= 0xd800 && c <= 0xdfff) {
      const next = i + 1 < key.length ? key.charCodeAt(i + 1) : 0;
      if (c <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
        c = 0x10000 + ((c - 0xd800) << 10) + (next - 0xdc00);
        i++;
        fnvByte(0xf0 | (c >> 18));
        fnvByte(0x80 | ((c >> 12) & 0x3f));
        fnvByte(0x80 | ((c >> 6) & 0x3f));
        fnvByte(0x80 | (c & 0x3f));
        continue;
      }
      c = 0xfffd; // a lone surrogate, as TextEncoder encodes it
    }
    fnvByte(0xe0 | (c >> 12));
    fnvByte(0x80 | ((c >> 6) & 0x3f));
    fnvByte(0x80 | (c & 0x3f));
  }
}

/** FNV-1a 64 of the UTF-8 bytes of `key`, modulo `n` (1 ≤ n < 2^37): Rust's `hash % n` on the u64. */
export function fnv1a64Mod(key: SelectionKey, n: number): number {
  hashKey(key);
  // Horner over the limbs, reducing at each step: every intermediate stays below 2^53.
  let r = h3 % n;
  r = (r * 0x10000 + h2) % n;
  r = (r * 0x10000 + h1) % n;
  return (r * 0x10000 + h0) % n;
}

/** FNV-1a 64 of `key` as a 16-digit hex string (for tests against known vectors). */
export function fnv1a64Hex(key: SelectionKey): string {
  hashKey(key);
  return [h3, h2, h1, h0].map((l) => l.toString(16).padStart(4, '0')).join('');
}
