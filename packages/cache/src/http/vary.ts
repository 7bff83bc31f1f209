/**
 * `Vary` (RFC 9110 §12.5.5) and the secondary key built from it (RFC 9111 §4.1): the request
 * fields a stored response was selected by, normalised so that equivalent requests share a variant.
 */
import type { HeaderFields } from './header-fields';
import { fieldValues } from './header-fields';

export interface VaryNames {
  /** `Vary: *`: never matches, so never stored. */
  any: boolean;
  /** Lower-case field names, sorted, without duplicates. */
  names: readonly string[];
}

const NO_VARY: VaryNames = Object.freeze({ any: false, names: Object.freeze([]) as readonly string[] });

/** The `Vary` of a response. */
export function parseVary(headers: HeaderFields): VaryNames {
  const values = fieldValues(headers, 'vary');
  if (values.length === 0) return NO_VARY;
  const names = new Set<string>();
  let any = false;
  for (const v of values) {
    for (const part of v.split(',')) {
      const name = part.trim().toLowerCase();
      if (name === '*') any = true;
      else if (name.length > 0) names.add(name);
    }
  }
  if (!any && names.size === 0) return NO_VARY;
  return { any, names: [...names].sort() };
}

// Fields whose values compare case-insensitively (codings, language tags, charsets).
const CASE_INSENSITIVE: ReadonlySet<string> = new Set(['accept-encoding', 'accept-language', 'accept-charset']);

/**
 * The secondary key of `requestHeaders` for the `Vary` names `names` (sorted, lower case), or
 * `null` when `names` is empty (the URL has a single variant). Values are normalised as §4.1
 * allows: several lines joined, whitespace around commas and at the ends dropped, runs of
 * spaces folded, and lower-cased for the fields listed above. An absent field differs from an
 * empty one. The key is `name=value` lines; no header value can hold a newline.
 */
export function varianceKey(names: readonly string[], requestHeaders: HeaderFields): string | null {
  if (names.length === 0) return null;
  let key = '';
  for (const name of names) {
    const values = fieldValues(requestHeaders, name);
    if (values.length === 0) {
      key += `${name}\n`;
      continue;
    }
    let v = normaliseValue(values.length === 1 ? (values[0] as string) : values.join(','));
    if (CASE_INSENSITIVE.has(name)) v = v.toLowerCase();
    key += `${name}=${v}\n`;
  }
  return key;
}

function normaliseValue(v: string): string {
  let out = '';
  for (const part of v.split(',')) {
    const t = part.trim().replace(/[ \t]+/g, ' ');
    if (t.length === 0) continue;
    out = out.length === 0 ? t : `${out},${t}`;
  }
  return out;
}
