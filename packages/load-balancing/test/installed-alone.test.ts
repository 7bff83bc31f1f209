/**
 * The package as a user gets it: @pingora-ts/core and @pingora-ts/load-balancing packed with
 * `pnpm pack` (which turns `workspace:*` into a version), installed with npm into an empty
 * folder with undici and nothing else of this repository, and the README's balanced
 * dispatcher example run there. Needs the builds (`pnpm build`) and the npm registry (for
 * undici, yaml, zod; npm's cache is tried first).
 */
import { execFile, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expectBalancedDispatcherRun } from './helpers/balanced-example-output';

const pkg = join(__dirname, '..');
const core = join(pkg, '..', 'core');

/** Runs a command and resolves with its stdout; rejects with its output when it fails. */
function run(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = process.env, timeout = 120_000): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { cwd, env, timeout, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) =>
      err ? reject(new Error(`${cmd} ${args.join(' ')} (in ${cwd}) failed: ${err.message}\n${stdout}\n${stderr}`)) : resolve(stdout),
    );
  });
}

/** pnpm from the PATH, or fetched through npx as CI does. */
function pnpm(): [string, string[]] {
  return spawnSync('pnpm', ['--version'], { encoding: 'utf8' }).status === 0 ? ['pnpm', []] : ['npx', ['-y', 'pnpm@10']];
}

/** The environment without the npm_* settings of the pnpm or npm run that started jest (network settings kept). */
function cleanEnv(): NodeJS.ProcessEnv {
  const keep = /^npm_config_(registry|cache|proxy|https_proxy|noproxy|strict_ssl|cafile)$/i;
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^npm_/i.test(k) || keep.test(k)) env[k] = v;
  return env;
}

describe('@pingora-ts/load-balancing installed alone from its packed tarball', () => {
  let tmp = '';
  afterAll(() => {
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  it('runs the README balanced dispatcher example with only core, load-balancing and undici installed', async () => {
    for (const dir of [core, pkg]) {
      if (!existsSync(join(dir, 'dist', 'index.js'))) throw new Error(`${dir}/dist is missing: run \`pnpm build\` first`);
    }
    tmp = mkdtempSync(join(tmpdir(), 'pingora-ts-alone-'));
    const [cmd, pre] = pnpm();
    const filters = ['--filter', '@pingora-ts/core', '--filter', '@pingora-ts/load-balancing'];
    await run(cmd, [...pre, ...filters, '-r', 'pack', '--pack-destination', tmp], join(pkg, '..', '..'));
    const tarballs = readdirSync(tmp).filter((f) => f.endsWith('.tgz')).sort();
    expect(tarballs).toEqual(['pingora-ts-core-0.1.0.tgz', 'pingora-ts-load-balancing-0.1.0.tgz']);

    const app = join(tmp, 'app');
    mkdirSync(app);
    writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'installed-alone', private: true, type: 'module' }));
    const undici = (JSON.parse(readFileSync(require.resolve('undici/package.json', { paths: [pkg] }), 'utf8')) as { version: string }).version;
    await run(
      'npm',
      ['install', '--no-audit', '--no-fund', '--ignore-scripts', '--prefer-offline', ...tarballs.map((t) => join(tmp, t)), `undici@${undici}`],
      app,
      cleanEnv(),
    );
    expect(readdirSync(join(app, 'node_modules', '@pingora-ts')).sort()).toEqual(['core', 'load-balancing']);

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
