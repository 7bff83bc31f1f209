/**
 * The first value of header `name` (lower case) in `[name, value, …]` raw headers, or
 * undefined. A length check before each compare, and no header object built: the combined
 * access log reads `Referer` and `User-Agent` this way on every request.
 */
export function rawHeader(raw: readonly string[], name: string): string | undefined {
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const n = raw[i] as string;
    if (n.length === name.length && (n === name || n.toLowerCase() === name)) return raw[i + 1];
  }
  return undefined;
}
