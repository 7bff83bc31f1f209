/**
 * A package as a user gets it: packed with `pnpm pack` (which turns `workspace:*` into a
 * version) and installed with npm into an empty folder, with nothing else of this repository.
 * Shared by the packages' installed-alone tests. Needs the builds (`pnpm build`) and the npm
 * registry for third-party dependencies (npm's cache is tried first).
 */
import { execFile, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** The repository's root. */
const ROOT = join(__dirname, '..');

/** Runs a command and resolves with its stdout; rejects with its output when it fails. */
export function run(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = process.env, timeout = 120_000): Promise<string> {
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

export interface PackedInstall {
  /** The folder the app was installed in (an ESM `package.json`, `node_modules`). */
  readonly app: string;
  /** The tarball names, sorted. */
  readonly tarballs: readonly string[];
  /** The `@pingora-ts` packages installed, sorted (e.g. `['cache', 'core']`). */
  readonly installed: readonly string[];
  /** Removes everything. */
  remove(): void;
}

/**
 * Packs `packages` (directory names under packages/, e.g. `['core', 'cache']`) and installs the
 * tarballs, plus `extra` npm specs (e.g. `undici@7.16.0`), into a new empty app folder.
 */
export async function packAndInstall(packages: readonly string[], extra: readonly string[] = []): Promise<PackedInstall> {
  for (const name of packages) {
    const dir = join(ROOT, 'packages', name);
    if (!existsSync(join(dir, 'dist', 'index.js'))) throw new Error(`${dir}/dist is missing: run \`pnpm build\` first`);
  }
  const tmp = mkdtempSync(join(tmpdir(), 'pingora-ts-alone-'));
  const remove = (): void => rmSync(tmp, { recursive: true, force: true });
  try {
    const [cmd, pre] = pnpm();
    const filters = packages.flatMap((name) => ['--filter', `@pingora-ts/${name}`]);
    await run(cmd, [...pre, ...filters, '-r', 'pack', '--pack-destination', tmp], ROOT);
    const tarballs = readdirSync(tmp).filter((f) => f.endsWith('.tgz')).sort();
    const app = join(tmp, 'app');
    mkdirSync(app);
    writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'installed-alone', private: true, type: 'module' }));
    await run('npm', ['install', '--no-audit', '--no-fund', '--ignore-scripts', '--prefer-offline', ...tarballs.map((t) => join(tmp, t)), ...extra], app, cleanEnv());
    const installed = readdirSync(join(app, 'node_modules', '@pingora-ts')).sort();
    return { app, tarballs, installed, remove };
  } catch (err) {
    remove();
    throw err;
  }
}
