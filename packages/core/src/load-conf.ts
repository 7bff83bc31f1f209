/**
 * Reads a YAML conf file and validates it against a zod schema, turning every failure into
 * a `ConfError` with `file:line:col: key.path: what is wrong`.
 *
 * `yaml`'s `parseDocument` keeps the node tree with source ranges (mapped to line and column
 * by a `LineCounter`), so a problem zod finds in the plain data can be pointed at in the file.
 */
import { readFileSync } from 'node:fs';
import { LineCounter, isMap, isScalar, isSeq, parseDocument, type Document, type YAMLError } from 'yaml';
import type { z } from 'zod';
import { ConfError, makeIssue, type ConfIssue } from './conf-error';
import { errorMessage } from './internal/error-message';
import { closestKey } from './internal/levenshtein';
import { allowedKeys, describeSchema, describeValue, schemaAt } from './internal/schema-describe';
import { serverConfSchema } from './server-conf';

type Pos = { line: number; column: number };
type Path = ReadonlyArray<string | number>;

/**
 * Reads `file` and validates it with `schema` (default: `serverConfSchema`). Throws
 * `ConfError` when the file cannot be read, is not valid YAML, or does not fit the schema.
 * An empty file (or one with only comments) gives every default.
 */
export function loadConfFile<S extends z.ZodType = typeof serverConfSchema>(file: string, schema?: S): z.infer<S> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const message = errorMessage(err);
    const reason = message.split(', ')[0] ?? message; // "ENOENT: no such file or directory"; the file is named already
    throw ConfError.single(file, [], `cannot read the file (${reason})`, undefined, err);
  }
  return parseConf(text, file, schema);
}

/** Parses YAML `text` (named `file` in messages) and validates it, as `loadConfFile` does. */
export function parseConf<S extends z.ZodType = typeof serverConfSchema>(text: string, file: string, schema?: S): z.infer<S> {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: true });
  if (doc.errors.length > 0) throw new ConfError(file, doc.errors.map((e) => yamlIssue(file, e)));
  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: 100 });
  } catch (err) {
    throw ConfError.single(file, [], `invalid YAML: ${errorMessage(err)}`, undefined, err);
  }
  return validate(data ?? {}, (schema ?? serverConfSchema) as S, file, (path, key) => {
    const offset = offsetOf(doc, path, key);
    if (offset === undefined) return undefined;
    const { line, col } = lineCounter.linePos(offset);
    return { line, column: col };
  });
}

/**
 * Validates an already-parsed value (e.g. a conf object passed to `new Server`), filling
 * defaults. Throws `ConfError` naming `file` (default `<options.conf>`), without positions.
 */
export function validateConf<S extends z.ZodType = typeof serverConfSchema>(value: unknown, schema?: S, file = '<options.conf>'): z.infer<S> {
  return validate(value ?? {}, (schema ?? serverConfSchema) as S, file, () => undefined);
}

function validate<S extends z.ZodType>(data: unknown, schema: S, file: string, position: (path: Path, key: boolean) => Pos | undefined): z.infer<S> {
  const result = schema.safeParse(data);
  if (result.success) return result.data as z.infer<S>;
  const issues: ConfIssue[] = [];
  for (const issue of result.error.issues) {
    const path = issue.path.filter((k): k is string | number => typeof k !== 'symbol');
    if (issue.code === 'unrecognized_keys') {
      const known = allowedKeys(schemaAt(schema, path));
      for (const key of issue.keys) {
        const guess = closestKey(key, known);
        const keyPath = [...path, key];
        issues.push(makeIssue(file, keyPath, guess ? `unknown key (did you mean "${guess}"?)` : 'unknown key', position(keyPath, true)));
      }
    } else {
      issues.push(makeIssue(file, path, explain(issue, schema, data, path), position(path, false)));
    }
  }
  // File order reads best: the first problem in the file is the one in the message.
  // At one place, an unknown key goes first: a misspelt key is also why its twin is "missing".
  const rank = (i: ConfIssue): number => (i.detail.startsWith('unknown key') ? 0 : 1);
  issues.sort((a, b) => (a.line ?? Infinity) - (b.line ?? Infinity) || (a.column ?? 0) - (b.column ?? 0) || rank(a) - rank(b));
  throw new ConfError(file, issues, { cause: result.error });
}

/** One issue in words: `expected an integer >= 1, got "two"`. */
function explain(issue: z.core.$ZodIssue, schema: z.ZodType, data: unknown, path: Path): string {
  const value = valueAt(data, path);
  const expected = describeSchema(schemaAt(schema, path));
  switch (issue.code) {
    case 'invalid_type':
      if (value === undefined) return `missing required key (expected ${expected ?? issue.expected})`;
      return `expected ${expected ?? issue.expected}, got ${describeValue(value)}`;
    case 'too_small':
    case 'too_big': {
      const bound = issue.code === 'too_small' ? `at least ${issue.minimum}` : `at most ${issue.maximum}`;
      const n = issue.code === 'too_small' ? issue.minimum : issue.maximum;
      if (issue.origin === 'array' || issue.origin === 'set') return `expected ${bound} ${plural(n, 'item')}, got ${Array.isArray(value) ? value.length : describeValue(value)}`;
      if (issue.origin === 'string') return `expected ${bound} ${plural(n, 'character')}, got ${describeValue(value)}`;
      return `expected ${expected ?? `a value ${bound}`}, got ${describeValue(value)}`;
    }
    case 'invalid_value':
    case 'invalid_union':
      return expected ? `expected ${expected}, got ${describeValue(value)}` : issue.message;
    default:
      return issue.message;
  }
}

function plural(n: number | bigint, word: string): string {
  return Number(n) === 1 ? word : `${word}s`;
}

function valueAt(data: unknown, path: Path): unknown {
  let value = data;
  for (const key of path) {
    if (value === null || typeof value !== 'object') return undefined;
    value = (value as Record<string | number, unknown>)[key];
  }
  return value;
}

function yamlIssue(file: string, err: YAMLError): ConfIssue {
  const firstLine = err.message.split('\n', 1)[0] ?? err.message;
  const detail = `invalid YAML: ${firstLine.replace(/ at line \d+, column \d+:?$/, '')}`;
  const pos = err.linePos?.[0];
  return makeIssue(file, [], detail, pos ? { line: pos.line, column: pos.col } : undefined);
}

type YamlNode = { range?: [number, number, number] | null } | null | undefined;

/**
 * Source offset of the value at `path` (of its key, when `key` is set), or of the nearest
 * ancestor that exists, so a missing key points at the mapping that lacks it.
 */
function offsetOf(doc: Document, path: Path, key: boolean): number | undefined {
  const chain: YamlNode[] = [doc.contents as YamlNode];
  let keyNode: YamlNode;
  for (const k of path) {
    const node: unknown = chain[chain.length - 1];
    let next: YamlNode;
    keyNode = undefined;
    if (isMap(node)) {
      const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === String(k));
      keyNode = pair?.key as YamlNode;
      next = pair ? ((pair.value ?? null) as YamlNode) : undefined;
      // `key:` with no value: point at the key, not at the empty spot after it.
      if (pair && (!next || (isScalar(next) && next.value === null && next.range?.[0] === next.range?.[1]))) next = keyNode;
    } else if (isSeq(node) && typeof k === 'number') {
      next = node.items[k] as YamlNode;
    }
    if (!next) break;
    chain.push(next);
  }
  const found = chain.length === path.length + 1;
  if (found && key && keyNode?.range) return keyNode.range[0];
  for (let i = chain.length - 1; i >= 0; i--) {
    const range = chain[i]?.range;
    if (range) return range[0];
  }
  return undefined;
}
