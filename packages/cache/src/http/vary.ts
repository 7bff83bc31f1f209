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

/** Items trimmed, empty items dropped, runs of spaces/tabs inside an item folded to one space. */
function normaliseValue(v: string): string {
  if (isNormal(v)) return v;
  let out = '';
  let space = false;
  let itemStart = true;
  for (let i = 0; i < v.length; i++) {
    const c = v.charCodeAt(i);
    if (c === 32 || c === 9) {
      if (!itemStart) space = true;
    } else if (c === 44) {
      space = false;
      if (!itemStart) {
        out += ',';
        itemStart = true;
      }
    } else {
      if (space) out += ' ';
      space = false;
      itemStart = false;
      out += v[i];
    }
  }
  return out.endsWith(',') ? out.slice(0, -1) : out;
}

/** True when `v` is already normal (the common case, e.g. `gzip,br` or `en`): no copy then. */
function isNormal(v: string): boolean {
  if (v.length === 0) return true;
  let prev = 44; // as if after a comma: a leading comma or space is not normal
  for (let i = 0; i < v.length; i++) {
    const c = v.charCodeAt(i);
    if (c === 9) return false;
    if (c === 32 && (prev === 32 || prev === 44)) return false;
    if (c === 44 && (prev === 44 || prev === 32)) return false;
    prev = c;
  }
  return prev !== 44 && prev !== 32;
}
