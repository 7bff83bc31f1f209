import { ProxyError } from '@pingora-ts/core';

/** A `ConfigError` naming the option and what it must be. */
export function optionError(name: string, must: string, got: unknown): ProxyError {
  const shown = typeof got === 'number' ? String(got) : typeof got === 'string' ? JSON.stringify(got) : typeof got;
  return ProxyError.internal('ConfigError', `${name} must be ${must} (got ${shown})`);
}

/** `undefined`, or a number > 0 (Infinity allowed where `infinite`). */
export function checkPositive(name: string, v: unknown, infinite = false): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !(v > 0) || (!infinite && !Number.isFinite(v))) {
    throw optionError(name, infinite ? 'a number > 0 (or Infinity)' : 'a finite number > 0', v);
  }
  return v;
}

/** `undefined`, or a number >= 0 (Infinity allowed). Used for TTLs: 0 means "do not store". */
export function checkTtl(name: string, v: unknown): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !(v >= 0)) throw optionError(name, 'a number of milliseconds >= 0 (or Infinity)', v);
  return v;
}
