/**
 * Entity-tag comparison (RFC 9110 §8.8.3.2).
 */

/** Weak comparison: equal opaque tags, `W/` ignored on both sides. */
export function weakMatch(a: string, b: string): boolean {
  return opaque(a) === opaque(b);
}

/** Strong comparison: neither is weak and the opaque tags are equal. */
export function strongMatch(a: string, b: string): boolean {
  const ta = a.trim();
  const tb = b.trim();
  return !ta.startsWith('W/') && !tb.startsWith('W/') && ta === tb;
}

function opaque(tag: string): string {
  const t = tag.trim();
  return t.startsWith('W/') ? t.slice(2) : t;
}

/** The entity-tags of an `If-None-Match`/`If-Match` list (quoted strings kept whole), or `'*'`. */
export function parseEntityTagList(value: string): string[] | '*' {
  if (value.trim() === '*') return '*';
  const out: string[] = [];
  let i = 0;
  const n = value.length;
  while (i < n) {
    while (i < n && (value[i] === ',' || value[i] === ' ' || value[i] === '\t')) i++;
    if (i >= n) break;
    const start = i;
    if (value.startsWith('W/', i)) i += 2;
    if (value[i] === '"') {
      const close = value.indexOf('"', i + 1);
      i = close < 0 ? n : close + 1;
    } else {
      while (i < n && value[i] !== ',') i++;
    }
    out.push(value.slice(start, i).trim());
    while (i < n && value[i] !== ',') i++;
  }
  return out;
}
