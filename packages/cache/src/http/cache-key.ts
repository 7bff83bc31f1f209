/**
 * Cache keys (Pingora's `CacheKey`): a primary key naming the URL, the same for every method
 * that reads it (a `HEAD` finds the stored `GET`), and a variance (secondary key) naming one
 * variant of it when the stored response has `Vary` (see `varianceKey`).
 *
 * The primary key follows a template compiled once (nginx's `proxy_cache_key` style):
 * `$scheme`, `$host` (lower case, without the scheme's default port), `$uri` (path without the
 * query), `$args` (the query without `?`), `$request_uri` (path and query), `$http_<name>`
 * (a request header, `_` for `-`). Default: `$scheme://$host$request_uri`.
 */
import type { CacheRequest } from './cache-request';
import { fieldValue } from './header-fields';

export interface CacheKey {
  /** Names the URL (and whatever else the template adds). */
  primary: string;
  /** Names one variant of it (from `Vary`), or `null` when it has only one. */
  variance: string | null;
}

export const DEFAULT_KEY_TEMPLATE = '$scheme://$host$request_uri';

type Part = string | ((r: CacheRequest) => string);

const VARIABLES: Record<string, (r: CacheRequest) => string> = {
  scheme: (r) => r.scheme.toLowerCase(),
  host: (r) => normaliseHost(r.scheme, r.authority),
  uri: (r) => {
    const q = r.path.indexOf('?');
    return q < 0 ? r.path : r.path.slice(0, q);
  },
  args: (r) => {
    const q = r.path.indexOf('?');
    return q < 0 ? '' : r.path.slice(q + 1);
  },
  request_uri: (r) => r.path,
};

/** A compiled key template: `primaryKey(request)` per request, no parsing then. */
export class CacheKeyTemplate {
  readonly template: string;
  private readonly parts: readonly Part[];

  /** Throws a `TypeError` naming the `key` option when the template has an unknown variable. */
  constructor(template: string = DEFAULT_KEY_TEMPLATE) {
    if (typeof template !== 'string' || template.length === 0) throw new TypeError('cache option "key" must be a non-empty string');
    this.template = template;
    const parts: Part[] = [];
    const re = /\$(\{[a-z_][a-z0-9_]*\}|[a-z_][a-z0-9_]*)/gi;
    let last = 0;
    for (let m = re.exec(template); m !== null; m = re.exec(template)) {
      if (m.index > last) parts.push(template.slice(last, m.index));
      const name = (m[1] as string).replace(/^\{|\}$/g, '').toLowerCase();
      parts.push(variable(name, template));
      last = m.index + m[0].length;
    }
    if (last < template.length) parts.push(template.slice(last));
    this.parts = parts;
  }

  /** The primary key of `request`. */
  primaryKey(request: CacheRequest): string {
    let key = '';
    for (const p of this.parts) key += typeof p === 'string' ? p : p(request);
    return key;
  }
}

function variable(name: string, template: string): (r: CacheRequest) => string {
  const known = VARIABLES[name];
  if (known !== undefined) return known;
  if (name.startsWith('http_') && name.length > 5) {
    const header = name.slice(5).replace(/_/g, '-');
    return (r) => fieldValue(r.headers, header) ?? '';
  }
  throw new TypeError(
    `cache option "key": unknown variable "$${name}" in "${template}" (known: $scheme, $host, $uri, $args, $request_uri, $http_<name>)`,
  );
}

/** Lower-case host, without `:80` for http or `:443` for https. */
export function normaliseHost(scheme: string, authority: string): string {
  const host = authority.toLowerCase();
  const s = scheme.toLowerCase();
  if (s === 'http' && host.endsWith(':80')) return host.slice(0, -3);
  if (s === 'https' && host.endsWith(':443')) return host.slice(0, -4);
  return host;
}

/** A key's string form (`primary`, or `primary` NUL `variance`), as a map key. */
export function keyString(key: CacheKey): string {
  return key.variance === null ? key.primary : `${key.primary}\0${key.variance}`;
}
