/**
 * The package as a user gets it: @pingora-ts/core and @pingora-ts/load-balancing packed with
 * `pnpm pack` (which turns `workspace:*` into a version), installed with npm into an empty
 * folder with undici and nothing else of this repository, and the README's balanced
 * dispatcher example run there. Needs the builds (`pnpm build`) and the npm registry (for
 * undici, yaml, zod; npm's cache is tried first).
 */
import { copyFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { packAndInstall, run, type PackedInstall } from '../../../test-support/packed-install';
import { expectBalancedDispatcherRun } from './helpers/balanced-example-output';

const pkg = join(__dirname, '..');

describe('@pingora-ts/load-balancing installed alone from its packed tarball', () => {
  let installed: PackedInstall | null = null;
  afterAll(() => installed?.remove());

  it('runs the README balanced dispatcher example with only core, load-balancing and undici installed', async () => {
    const undici = (JSON.parse(readFileSync(require.resolve('undici/package.json', { paths: [pkg] }), 'utf8')) as { version: string }).version;
    installed = await packAndInstall(['core', 'load-balancing'], [`undici@${undici}`]);
    const { app } = installed;
    expect(installed.tarballs).toEqual(['pingora-ts-core-0.1.0.tgz', 'pingora-ts-load-balancing-0.1.0.tgz']);
    expect(installed.installed).toEqual(['core', 'load-balancing']);

    // The main entry never loads undici; the subpath resolves for require as for import.
    const cjs = await run(
      process.execPath,
      [
        '-e',
        "require('@pingora-ts/load-balancing'); const before = Object.keys(require.cache).some((k) => k.includes('/undici/'));" +
          "const { BalancedDispatcher } = require('@pingora-ts/load-balancing/undici'); console.log(before, typeof BalancedDispatcher)",
      ],
      app,
    );
    expect(cjs.trim()).toBe('false function');

    copyFileSync(join(pkg, 'examples', 'balanced-dispatcher.mjs'), join(app, 'balanced-dispatcher.mjs'));
    expectBalancedDispatcherRun(await run(process.execPath, ['balanced-dispatcher.mjs'], app, process.env, 20_000));
  }, 120_000);
});
