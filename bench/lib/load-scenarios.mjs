// The scenario registry: every .mjs in bench/scenarios/ (but scenario.mjs) is one scenario.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const SCENARIO_DIR = fileURLToPath(new URL('../scenarios/', import.meta.url));

/**
 * Loads and checks every scenario, sorted by `order` then name.
 * @param {string} [dir]
 * @returns {Promise<import('../scenarios/scenario.mjs').Scenario[]>}
 */
export async function loadScenarios(dir = SCENARIO_DIR) {
  const files = readdirSync(dir).filter((f) => f.endsWith('.mjs') && f !== 'scenario.mjs');
  const out = [];
  for (const f of files) {
    const mod = await import(join(dir, f));
    const s = mod.default;
    const problem = checkScenario(s);
    if (problem) throw new Error(`bench/scenarios/${f}: ${problem}`);
    out.push(s);
  }
  const names = new Set();
  for (const s of out) {
    if (names.has(s.name)) throw new Error(`two scenarios are named "${s.name}"`);
    names.add(s.name);
  }
  return out.sort((a, b) => a.order - b.order || a.name.localeCompare(b.name));
}

/**
 * What is wrong with a scenario descriptor, or null.
 * @param {any} s
 */
export function checkScenario(s) {
  if (!s || typeof s !== 'object') return 'no default export';
  for (const k of ['name', 'title', 'measures']) if (typeof s[k] !== 'string' || s[k] === '') return `"${k}" must be a non-empty string`;
  if (!/^[a-z0-9][a-z0-9-]*$/.test(s.name)) return `name "${s.name}" must be lower-case words joined by "-"`;
  if (typeof s.order !== 'number') return '"order" must be a number';
  const isLoad = typeof s.load === 'function';
  const isCustom = typeof s.run === 'function';
  if (isLoad === isCustom) return 'export exactly one of load(target) or run(ctx)';
  if (isLoad && (typeof s.connections !== 'number' || typeof s.payload !== 'string')) return 'a load scenario needs "connections" and "payload"';
  return null;
}
