/**
 * The error every configuration failure becomes: unreadable file, YAML syntax, wrong type,
 * unknown key. Its `message` is one line an operator can act on without reading a stack:
 * `conf.yaml:12:7: services[0].upstreams.bogus: unknown key (did you mean "backends"?)`.
 */

/** One problem in a conf file. A `ConfError` carries all of them, first one first. */
export interface ConfIssue {
  /** The key's path as data, e.g. `['services', 0, 'upstreams', 'bogus']`. */
  readonly path: ReadonlyArray<string | number>;
  /** The same path written out, e.g. `services[0].upstreams.bogus` (`''` for the whole file). */
  readonly keyPath: string;
  /** 1-based line in the file, when the problem has a place in it. */
  readonly line?: number;
  /** 1-based column in the file. */
  readonly column?: number;
  /** What is wrong, without file or path: `unknown key (did you mean "backends"?)`. */
  readonly detail: string;
  /** The whole one-line message: `file:line:col: keyPath: detail`. */
  readonly message: string;
}

const kBrand = Symbol.for('pingora-ts.ConfError');

export class ConfError extends Error {
  /** The file as it was named (or `<defaults>` / `<options.conf>` when there was none). */
  readonly file: string;
  /** Path of the first issue. */
  readonly keyPath: string;
  readonly line: number | undefined;
  readonly column: number | undefined;
  /** Every issue found, in file order; `message` is the first one's. */
  readonly issues: readonly ConfIssue[];
  /** Same meaning as `ProxyError.kind`, so a handler may match either on `kind`. */
  readonly kind = 'ConfigError' as const;
  readonly [kBrand] = true;

  constructor(file: string, issues: readonly ConfIssue[], options?: { cause?: unknown }) {
    const first = issues[0] ?? makeIssue(file, [], 'invalid configuration');
    super(first.message, options);
    this.name = 'ConfError';
    this.file = file;
    this.keyPath = first.keyPath;
    this.line = first.line;
    this.column = first.column;
    this.issues = issues.length > 0 ? issues : [first];
  }

  /** A ConfError with a single issue. */
  static single(file: string, path: ReadonlyArray<string | number>, detail: string, pos?: { line: number; column: number }, cause?: unknown): ConfError {
    return new ConfError(file, [makeIssue(file, path, detail, pos)], cause === undefined ? undefined : { cause });
  }

  /** True for a ConfError from any copy of this package (ESM and CJS builds included). */
  static isConfError(err: unknown): err is ConfError {
    return typeof err === 'object' && err !== null && (err as { [kBrand]?: boolean })[kBrand] === true;
  }

  static override [Symbol.hasInstance](value: unknown): boolean {
    return ConfError.isConfError(value);
  }
}

/** Builds an issue and its one-line message. */
export function makeIssue(file: string, path: ReadonlyArray<string | number>, detail: string, pos?: { line: number; column: number }): ConfIssue {
  const keyPath = formatConfPath(path);
  const where = pos ? `${file}:${pos.line}:${pos.column}` : file;
  const message = keyPath === '' ? `${where}: ${detail}` : `${where}: ${keyPath}: ${detail}`;
  return pos ? { path, keyPath, line: pos.line, column: pos.column, detail, message } : { path, keyPath, detail, message };
}

const PLAIN_KEY = /^[A-Za-z_$][\w$-]*$/;

/**
 * Writes a key path the way people read it: `['services', 0, 'upstreams', 'bogus']` ->
 * `services[0].upstreams.bogus`. Keys that are not plain words are quoted: `routes["a.b"]`.
 */
export function formatConfPath(path: ReadonlyArray<string | number | symbol>): string {
  let out = '';
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else if (typeof key === 'string' && PLAIN_KEY.test(key)) out += out === '' ? key : `.${key}`;
    else out += `[${JSON.stringify(String(key))}]`;
  }
  return out;
}
