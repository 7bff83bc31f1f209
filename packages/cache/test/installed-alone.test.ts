/**
 * The package as a user gets it: @pingora-ts/core and @pingora-ts/cache packed with `pnpm pack`
 * (which turns `workspace:*` into a version), installed with npm into an empty folder with
 * nothing else of this repository, and the README example run there, as ESM and through
 * require. Needs the builds (`pnpm build`) and the npm registry for core's dependencies (npm's
 * cache is tried first).
 */
import { execFile, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const pkg = join(__dirname, '..');
const core = join(pkg, '..', 'core');

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

describe('@pingora-ts/cache installed alone from its packed tarball', () => {
  let tmp = '';
  afterAll(() => {
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  it('runs the README example with only core and cache installed', async () => {
    for (const dir of [core, pkg]) {
      if (!existsSync(join(dir, 'dist', 'index.js'))) throw new Error(`${dir}/dist is missing: run \`pnpm build\` first`);
    }
    tmp = mkdtempSync(join(tmpdir(), 'pingora-ts-cache-alone-'));
    const [cmd, pre] = pnpm();
    await run(cmd, [...pre, '--filter', '@pingora-ts/core', '--filter', '@pingora-ts/cache', '-r', 'pack', '--pack-destination', tmp], join(pkg, '..', '..'));
    const tarballs = readdirSync(tmp).filter((f) => f.endsWith('.tgz')).sort();
    expect(tarballs).toEqual(['pingora-ts-cache-0.1.0.tgz', 'pingora-ts-core-0.1.0.tgz']);

    const app = join(tmp, 'app');
    mkdirSync(app);
    writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'installed-alone', private: true, type: 'module' }));
    await run('npm', ['install', '--no-audit', '--no-fund', '--ignore-scripts', '--prefer-offline', ...tarballs.map((t) => join(tmp, t))], app, cleanEnv());
    expect(readdirSync(join(app, 'node_modules', '@pingora-ts')).sort()).toEqual(['cache', 'core']);

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
