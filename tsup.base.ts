import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Options } from 'tsup';

/**
 * The entry points of the package being built (tsup runs in its folder), one per subpath
 * of its package.json `exports`: `.` is `src/index.ts`, `./internal` is `src/internal.ts`,
 * each built to `dist/<name>.{js,cjs,d.ts,d.cts}`. `exports` is the one list of entry points.
 */
export function entriesFromExports(pkgDir: string = process.cwd()): Record<string, string> {
  const pkg = JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8')) as { exports?: Record<string, unknown> };
  const entries: Record<string, string> = {};
  for (const subpath of Object.keys(pkg.exports ?? { '.': null })) {
    if (subpath === './package.json') continue;
    const name = subpath === '.' ? 'index' : subpath.slice(2);
    entries[name] = `src/${name}.ts`;
  }
  return entries;
}

/** Every package builds the same way: ESM + CJS + .d.ts from each `exports` entry, for Node 20+. */
export const packageBuild: Options = {
  entry: entriesFromExports(),
  format: ['esm', 'cjs'],
  dts: true,
  sourcemap: true,
  clean: true,
  // Entries share chunks in CJS too (tsup splits only ESM by default): without it,
  // `require('@pingora-ts/core/internal')` would carry its own copy of every module it shares
  // with the main entry, so `ProxyError` from one would fail `instanceof` in the other.
  splitting: true,
  target: 'node20',
};
