#!/usr/bin/env node
/**
 * Packaging checks for every published package (packages/*, not private), run after
 * `pnpm build`; builds nothing itself. For each package:
 *
 * 1. its `exports` follow the one shape tsup.base.ts builds: each subpath `./x` (`.` is
 *    `index`) is `{ import: { types: ./dist/x.d.ts, default: ./dist/x.js },
 *    require: { types: ./dist/x.d.cts, default: ./dist/x.cjs } }`, and those files are built;
 *    a subpath other than `.` is also listed in `typesVersions` (TypeScript's node10
 *    resolution ignores `exports`); `files` ships dist, README.md and CHANGELOG.md;
 * 2. the package is packed once (`npm pack`: no global pnpm needed, CI fetches pnpm through
 *    npx), and `publint --strict` finds nothing in the packed files (warnings count as errors);
 * 3. `attw` (Are the Types Wrong) resolves every `exports` subpath of the tarball under node10,
 *    node16 from CJS, node16 from ESM and bundler.
 *
 * Prints one line per package and check, and exits 1 if any failed.
 * Usage: node scripts/check-packages.mjs [package-dir ...]   (default: every packages/*)
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const bin = (name) => join(root, 'node_modules', '.bin', name);

/** The problems with a package.json's `exports`, `typesVersions` and `files`, and missing builds. */
function shapeProblems(pkgDir, pkg) {
  const problems = [];
  const exportsField = pkg.exports;
  if (!exportsField || typeof exportsField !== 'object') return ['no "exports" object'];
  for (const [subpath, target] of Object.entries(exportsField)) {
    if (subpath === './package.json') continue;
    const name = subpath === '.' ? 'index' : subpath.slice(2);
    const want = {
      import: { types: `./dist/${name}.d.ts`, default: `./dist/${name}.js` },
      require: { types: `./dist/${name}.d.cts`, default: `./dist/${name}.cjs` },
    };
    if (JSON.stringify(target) !== JSON.stringify(want)) {
      problems.push(`exports["${subpath}"] should be ${JSON.stringify(want)} (types first; what tsup.base.ts builds from src/${name}.ts)`);
    }
    for (const file of [want.import.types, want.import.default, want.require.types, want.require.default]) {
      if (!existsSync(join(pkgDir, file))) problems.push(`${file} is missing: run \`pnpm build\` first`);
    }
    if (subpath !== '.') {
      const mapped = pkg.typesVersions?.['*']?.[name];
      if (JSON.stringify(mapped) !== JSON.stringify([want.import.types])) {
        problems.push(`typesVersions["*"]["${name}"] should be ["${want.import.types}"] (node10 type resolution ignores exports)`);
      }
    }
  }
  for (const file of ['dist', 'README.md', 'CHANGELOG.md']) {
    if (!pkg.files?.includes(file)) problems.push(`"files" should include "${file}"`);
    else if (!existsSync(join(pkgDir, file))) problems.push(`${file} is listed in "files" but missing`);
  }
  return problems;
}

function run(cmd, args, cwd) {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', env: { ...process.env, FORCE_COLOR: "0", NO_COLOR: "1" } });
  return { ok: r.status === 0, output: `${r.stdout ?? ''}${r.stderr ?? ''}${r.error ? String(r.error) : ''}` };
}

function publishedPackages() {
  const dir = join(root, 'packages');
  return readdirSync(dir)
    .map((name) => join(dir, name))
    .filter((d) => existsSync(join(d, 'package.json')) && !JSON.parse(readFileSync(join(d, 'package.json'), 'utf8')).private);
}

function main() {
  const dirs = process.argv.length > 2 ? process.argv.slice(2).map((d) => resolve(d)) : publishedPackages();
  let failed = 0;
  for (const dir of dirs) {
    const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
    const where = relative(root, dir);
    const report = (check, ok, details) => {
      console.log(`${ok ? 'ok  ' : 'FAIL'} ${pkg.name} ${check}`);
      if (!ok) {
        failed++;
        console.log(`     in ${where}:`);
        console.log(details.trim().replace(/^/gm, "       "));
      }
    };
    const problems = shapeProblems(dir, pkg);
    report('exports/files shape', problems.length === 0, problems.join('\n'));
    if (problems.some((p) => p.includes('pnpm build'))) continue; // nothing built to pack
    const tmp = mkdtempSync(join(tmpdir(), 'pingora-ts-pack-'));
    try {
      const pack = run('npm', ['pack', '--silent', '--pack-destination', tmp], dir);
      const tgz = readdirSync(tmp).find((f) => f.endsWith('.tgz'));
      report('npm pack', pack.ok && tgz !== undefined, pack.output);
      if (tgz === undefined) continue;
      const unpack = run('tar', ['-xzf', join(tmp, tgz), '-C', tmp], dir); // into tmp/package
      const lint = unpack.ok ? run(bin('publint'), ['run', '--strict', '--pack', 'false', join(tmp, 'package')], dir) : unpack;
      report('publint --strict', lint.ok, lint.output);
      const types = run(bin('attw'), [join(tmp, tgz), '--profile', 'strict', '--format', 'ascii'], dir);
      report('attw (node10, node16 CJS/ESM, bundler)', types.ok, types.output);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  }
  console.log(failed === 0 ? `packages: ${dirs.length} checked, no problems` : `packages: ${failed} check(s) failed`);
  process.exit(failed === 0 ? 0 : 1);
}

main();
