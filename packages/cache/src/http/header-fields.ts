/**
 * Header fields as the flat `[name, value, name, value, …]` array node:http's `rawHeaders` uses
 * (and the proxy's `HeaderList.raw` holds), so the cache reads the proxy's heads without
 * copying them and without importing the proxy. Names compare case-insensitively.
 */
export type HeaderFields = readonly string[];

/** The first value of `name` (lower case), or `undefined`. */
export function fieldValue(fields: HeaderFields, lowerName: string): string | undefined {
  const len = lowerName.length;
  for (let i = 0; i + 1 < fields.length; i += 2) {
    const n = fields[i] as string;
    if (n.length === len && (n === lowerName || n.toLowerCase() === lowerName)) return fields[i + 1];
  }
  return undefined;
}

/** Every value of `name` (lower case), in order. */
export function fieldValues(fields: HeaderFields, lowerName: string): string[] {
  const out: string[] = [];
  const len = lowerName.length;
  for (let i = 0; i + 1 < fields.length; i += 2) {
    const n = fields[i] as string;
    if (n.length === len && (n === lowerName || n.toLowerCase() === lowerName)) out.push(fields[i + 1] as string);
  }
  return out;
}

/** Every value of `name` joined as one list-based field (RFC 9110 §5.3), or `undefined` when absent. */
export function combinedFieldValue(fields: HeaderFields, lowerName: string): string | undefined {
  const all = fieldValues(fields, lowerName);
  return all.length === 0 ? undefined : all.join(', ');
}

/** A copy of `fields` without the fields whose lower-case name is in `drop`. */
export function withoutFields(fields: HeaderFields, drop: ReadonlySet<string>): string[] {
  const out: string[] = [];
  for (let i = 0; i + 1 < fields.length; i += 2) {
    const n = fields[i] as string;
    if (!drop.has(n.toLowerCase())) out.push(n, fields[i + 1] as string);
  }
  return out;
}

/** Hop-by-hop fields (RFC 9110 §7.6.1), never stored nor copied from a 304 (RFC 9111 §3.1). */
export const HOP_BY_HOP: ReadonlySet<string> = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

/** The names listed in `Connection` (lower case), also hop-by-hop. */
export function connectionOptions(fields: HeaderFields): string[] {
  const out: string[] = [];
  for (const v of fieldValues(fields, 'connection')) {
    for (const part of v.split(',')) {
      const t = part.trim().toLowerCase();
      if (t.length > 0) out.push(t);
    }
  }
  return out;
}
