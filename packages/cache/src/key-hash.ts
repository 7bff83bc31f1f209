/**
 * A 32-bit hash of any Map key, for the frequency sketch. Strings and numbers hash by value
 * (FNV-1a over the UTF-16 code units; integers mixed directly); objects get an id on first
 * sight (a Map compares them by identity, so the sketch must too).
 */
const objectIds = new WeakMap<object, number>();
let nextObjectId = 1;
const f64 = new Float64Array(1);
const u32 = new Uint32Array(f64.buffer);

/** murmur3's finalizer: spreads every input bit over the output. */
export function mix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

function hashString(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

export function hashKey(key: unknown): number {
  switch (typeof key) {
    case 'string':
      return hashString(key);
    case 'number':
      if ((key | 0) === key) return key >>> 0;
      f64[0] = key;
      return (u32[0]! ^ Math.imul(u32[1]!, 0x9e3779b1)) >>> 0;
    case 'object':
    case 'function': {
      if (key === null) return 0;
      let id = objectIds.get(key);
      if (id === undefined) {
        id = nextObjectId++;
        objectIds.set(key, id);
      }
      return id;
    }
    default:
      // bigint, boolean, undefined, symbol: rare as cache keys; their text is enough.
      return hashString(typeof key === 'symbol' ? (key.description ?? '') : String(key));
  }
}
