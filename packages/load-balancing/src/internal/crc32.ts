import type { SelectionKey } from '../selection/selection-algorithm';

/** The CRC-32 table (IEEE 802.3, reflected polynomial 0xEDB88320): nginx's `ngx_crc32`, zlib's `crc32`. */
const TABLE = new Int32Array(256);
for (let n = 0; n < 256; n++) {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  TABLE[n] = c;
}

/**
 * Feeds one byte into a running CRC (`crc` is the raw register, before the final xor: start
 * from `CRC32_INIT`, finish with `crc32Final`), as nginx's `ngx_crc32_update`.
 */
export function crc32Byte(crc: number, byte: number): number {
  return TABLE[(crc ^ byte) & 0xff]! ^ (crc >>> 8);
}

/** The register's start value (`ngx_crc32_init`). */
export const CRC32_INIT = 0xffffffff | 0;

/** The CRC from a register (`ngx_crc32_final`), as an unsigned 32-bit number. */
export function crc32Final(crc: number): number {
  return (crc ^ 0xffffffff) >>> 0;
}

/**
 * Feeds the UTF-8 bytes of `key` (a string is encoded on the fly, without allocating; lone
 * surrogates become U+FFFD as `TextEncoder` does) into a running CRC register.
 */
export function crc32Update(crc: number, key: SelectionKey): number {
  if (typeof key !== 'string') {
    for (let i = 0; i < key.length; i++) crc = TABLE[(crc ^ key[i]!) & 0xff]! ^ (crc >>> 8);
    return crc;
  }
  for (let i = 0; i < key.length; i++) {
    let c = key.charCodeAt(i);
    if (c < 0x80) {
      crc = TABLE[(crc ^ c) & 0xff]! ^ (crc >>> 8);
      continue;
    }
    if (c < 0x800) {
      crc = crc32Byte(crc, 0xc0 | (c >> 6));
      crc = crc32Byte(crc, 0x80 | (c & 0x3f));
      continue;
    }
    if (c >= 0xd800 && c <= 0xdfff) {
      const next = i + 1 < key.length ? key.charCodeAt(i + 1) : 0;
      if (c <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
        c = 0x10000 + ((c - 0xd800) << 10) + (next - 0xdc00);
        i++;
        crc = crc32Byte(crc, 0xf0 | (c >> 18));
        crc = crc32Byte(crc, 0x80 | ((c >> 12) & 0x3f));
        crc = crc32Byte(crc, 0x80 | ((c >> 6) & 0x3f));
        crc = crc32Byte(crc, 0x80 | (c & 0x3f));
        continue;
      }
      c = 0xfffd;
    }
    crc = crc32Byte(crc, 0xe0 | (c >> 12));
    crc = crc32Byte(crc, 0x80 | ((c >> 6) & 0x3f));
    crc = crc32Byte(crc, 0x80 | (c & 0x3f));
  }
  return crc;
}

/** CRC-32 of the UTF-8 bytes of `key` (nginx's `ngx_crc32_long`), unsigned. */
export function crc32(key: SelectionKey): number {
  return crc32Final(crc32Update(CRC32_INIT, key));
}
