/**
 * The package as a user gets it: @pingora-ts/core and @pingora-ts/cache packed with `pnpm pack`
 * (which turns `workspace:*` into a version), installed with npm into an empty folder with
 * nothing else of this repository, and the README example run there, as ESM and through
 * require. Needs the builds (`pnpm build`) and the npm registry for core's dependencies (npm's
 * cache is tried first).
 */
import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { packAndInstall, run, type PackedInstall } from '../../../test-support/packed-install';

const pkg = join(__dirname, '..');

describe('@pingora-ts/cache installed alone from its packed tarball', () => {
  let installed: PackedInstall | null = null;
  afterAll(() => installed?.remove());

  it('runs the README example with only core and cache installed', async () => {
    installed = await packAndInstall(['core', 'cache']);
    const { app } = installed;
    expect(installed.tarballs).toEqual(['pingora-ts-cache-0.1.0.tgz', 'pingora-ts-core-0.1.0.tgz']);
    expect(installed.installed).toEqual(['cache', 'core']);

    const cjs = await run(
      process.execPath,
      ['-e', "const { MemoryCache, RTCache } = require('@pingora-ts/cache'); const c = new MemoryCache({ maxEntries: 2 }); c.set('a', 1); console.log(c.get('a'), typeof RTCache)"],
      app,
    );
    expect(cjs.trim()).toBe('1 function');

    copyFileSync(join(pkg, 'examples', 'read-through.mjs'), join(app, 'read-through.mjs'));
    const out = await run(process.execPath, ['read-through.mjs'], app, process.env, 20_000);
    expect(out).toContain('100 concurrent gets: 1 lookup, version 1 for all: true');
    expect(out).toContain('then: version 2, 2 lookups in all');
  }, 120_000);
});
