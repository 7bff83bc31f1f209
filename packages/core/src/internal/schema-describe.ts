/**
 * Reads a zod (v4) schema to turn validation issues into plain words: which schema sits at
 * a key path, which keys an object allows (for "did you mean"), and what a value must be
 * ("an integer >= 1"). Only config errors use this, never a hot path.
 *
 * It walks zod's `_zod.def` tree, which is zod's own introspection surface; anything it
 * does not know yields `undefined`, and the caller falls back to zod's message.
 */
import type { z } from 'zod';

interface Def {
  type: string;
  shape?: Record<string, z.ZodType>;
  catchall?: z.ZodType;
  element?: z.ZodType;
  innerType?: z.ZodType;
  valueType?: z.ZodType;
  in?: z.ZodType;
  getter?: () => z.ZodType;
  items?: z.ZodType[];
  rest?: z.ZodType | null;
  options?: z.ZodType[];
  entries?: Record<string, string | number>;
  values?: unknown[];
  checks?: Array<{ _zod: { def: CheckDef } }>;
}

interface CheckDef {
  check: string;
  value?: number;
  inclusive?: boolean;
  format?: string;
}

const WRAPPERS = new Set(['optional', 'nullable', 'default', 'prefault', 'readonly', 'catch', 'nonoptional', 'success']);

function defOf(schema: z.ZodType): Def {
  return (schema as unknown as { _zod: { def: Def } })._zod.def;
}

/** Strips optional/default/pipe wrappers down to the schema that decides the shape. */
function unwrap(schema: z.ZodType): z.ZodType {
  for (let i = 0; i < 32; i++) {
    const def = defOf(schema);
    const next = WRAPPERS.has(def.type) ? def.innerType : def.type === 'pipe' ? def.in : def.type === 'lazy' ? def.getter?.() : undefined;
    if (!next) return schema;
    schema = next;
  }
  return schema;
}

/** The schema that validates the value at `path`, or `undefined` when it cannot be told. */
export function schemaAt(root: z.ZodType, path: ReadonlyArray<PropertyKey>): z.ZodType | undefined {
  let schema: z.ZodType | undefined = root;
  for (const key of path) {
    if (!schema) return undefined;
    schema = childSchema(unwrap(schema), key);
  }
  return schema;
}

function childSchema(schema: z.ZodType, key: PropertyKey): z.ZodType | undefined {
  const def = defOf(schema);
  switch (def.type) {
    case 'object':
      return typeof key === 'string' && def.shape && Object.hasOwn(def.shape, key) ? def.shape[key] : undefined;
    case 'array':
      return def.element;
    case 'record':
      return def.valueType;
    case 'tuple':
      return typeof key === 'number' ? (def.items?.[key] ?? def.rest ?? undefined) : undefined;
    case 'union':
      for (const option of def.options ?? []) {
        const child = childSchema(unwrap(option), key);
        if (child) return child;
      }
      return undefined;
    default:
      return undefined;
  }
}

/** The keys an object schema allows (several objects of a union merged), or none. */
export function allowedKeys(schema: z.ZodType | undefined): string[] {
  if (!schema) return [];
  const def = defOf(unwrap(schema));
  if (def.type === 'object') return Object.keys(def.shape ?? {});
  if (def.type === 'union') return [...new Set((def.options ?? []).flatMap((o) => allowedKeys(o)))];
  return [];
}

/** What a value must be, in words: `an integer >= 1`, `true or false`, `one of "a", "b"`. */
export function describeSchema(schema: z.ZodType | undefined): string | undefined {
  if (!schema) return undefined;
  const def = defOf(unwrap(schema));
  switch (def.type) {
    case 'string':
      return 'a string';
    case 'boolean':
      return 'true or false';
    case 'number':
    case 'int':
      return describeNumber(def);
    case 'array':
    case 'tuple':
      return 'a list';
    case 'object':
    case 'record':
      return 'a mapping';
    case 'null':
      return 'an empty value';
    case 'enum':
      return `one of ${Object.values(def.entries ?? {}).map((v) => JSON.stringify(v)).join(', ')}`;
    case 'literal':
      return (def.values ?? []).map((v) => JSON.stringify(v)).join(' or ');
    case 'union': {
      const parts = (def.options ?? []).map(describeSchema);
      return parts.every((p): p is string => p !== undefined) ? [...new Set(parts)].join(' or ') : undefined;
    }
    default:
      return undefined;
  }
}

function describeNumber(def: Def): string {
  let integer = def.type === 'int';
  const bounds: string[] = [];
  for (const check of def.checks ?? []) {
    const c = check._zod.def;
    if (c.check === 'number_format' && (c.format === 'int32' || c.format === 'safeint' || c.format === 'uint32')) integer = true;
    else if (c.check === 'greater_than') bounds.push(`${c.inclusive ? '>=' : '>'} ${c.value}`);
    else if (c.check === 'less_than') bounds.push(`${c.inclusive ? '<=' : '<'} ${c.value}`);
  }
  return `${integer ? 'an integer' : 'a number'}${bounds.length > 0 ? ` ${bounds.join(' and ')}` : ''}`;
}

/** A value as it reads in an error: strings quoted and cut short, containers named. */
export function describeValue(value: unknown): string {
  if (value === null) return 'an empty value';
  if (value === undefined) return 'nothing';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 37)}...` : value);
  return String(value);
}
