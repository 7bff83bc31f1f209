/**
 * An ordered, case-preserving list of HTTP header fields, stored flat as
 * `[name, value, name, value, …]` (the form node:http's `rawHeaders` uses and `writeHead` takes).
 * Lookups ignore case. Values set through it are checked so no CR/LF can reach the wire.
 */
export class HeaderList {
  /** `[name, value, …]`; read it freely, change it through the methods. */
  readonly raw: string[];

  constructor(raw: string[] = []) {
    this.raw = raw;
  }

  /** Number of fields. */
  get size(): number {
    return this.raw.length >> 1;
  }

  /** The first value of `name`, or `undefined`. */
  get(name: string): string | undefined {
    const at = this.indexOf(name.toLowerCase(), 0);
    return at < 0 ? undefined : this.raw[at + 1];
  }

  /** Every value of `name`, in order. */
  getAll(name: string): string[] {
    const lower = name.toLowerCase();
    const out: string[] = [];
    for (let at = this.indexOf(lower, 0); at >= 0; at = this.indexOf(lower, at + 2)) out.push(this.raw[at + 1] as string);
    return out;
  }

  has(name: string): boolean {
    return this.indexOf(name.toLowerCase(), 0) >= 0;
  }

  /** Replaces every `name` field by one with `value` (at the first one's place, else at the end). */
  set(name: string, value: string | number): this {
    const v = checkValue(name, value);
    const lower = name.toLowerCase();
    const first = this.indexOf(lower, 0);
    if (first < 0) {
      this.raw.push(name, v);
      return this;
    }
    this.raw[first + 1] = v;
    this.removeFrom(lower, first + 2);
    return this;
  }

  /** Adds a field, keeping existing ones of that name. */
  append(name: string, value: string | number): this {
    this.raw.push(name, checkValue(name, value));
    return this;
  }

  /** Removes every `name` field; returns whether any was there. */
  remove(name: string): boolean {
    return this.removeFrom(name.toLowerCase(), 0);
  }

  /** `[name, value]` pairs in order. */
  *entries(): IterableIterator<[string, string]> {
    for (let i = 0; i + 1 < this.raw.length; i += 2) yield [this.raw[i] as string, this.raw[i + 1] as string];
  }

  [Symbol.iterator](): IterableIterator<[string, string]> {
    return this.entries();
  }

  private indexOf(lower: string, from: number): number {
    const raw = this.raw;
    const len = lower.length;
    for (let i = from; i < raw.length; i += 2) {
      const n = raw[i] as string;
      if (n.length === len && (n === lower || n.toLowerCase() === lower)) return i;
    }
    return -1;
  }

  private removeFrom(lower: string, from: number): boolean {
    const raw = this.raw;
    let w = from;
    let removed = false;
    for (let r = from; r < raw.length; r += 2) {
      const n = raw[r] as string;
      if (n.length === lower.length && n.toLowerCase() === lower) {
        removed = true;
        continue;
      }
      raw[w] = n;
      raw[w + 1] = raw[r + 1] as string;
      w += 2;
    }
    raw.length = w;
    return removed;
  }
}

/**
 * Throws a `TypeError` when `name` is not an HTTP token or `value` holds CR, LF or NUL;
 * returns the value as a string.
 */
export function checkValue(name: string, value: string | number): string {
  if (name.length === 0) throw new TypeError('header name must not be empty');
  for (let i = 0; i < name.length; i++) {
    if (!isTokenChar(name.charCodeAt(i))) throw new TypeError(`invalid header name "${name}"`);
  }
  const v = typeof value === 'number' ? String(value) : value;
  for (let i = 0; i < v.length; i++) {
    const c = v.charCodeAt(i);
    if (c === 13 || c === 10 || c === 0 || c > 255) throw new TypeError(`invalid character in value of header "${name}"`);
  }
  return v;
}

function isTokenChar(c: number): boolean {
  // RFC 9110 tchar
  if ((c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122)) return true;
  switch (c) {
    case 33: case 35: case 36: case 37: case 38: case 39: case 42: case 43:
    case 45: case 46: case 94: case 95: case 96: case 124: case 126:
      return true;
    default:
      return false;
  }
}
