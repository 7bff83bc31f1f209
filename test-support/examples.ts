/**
 * Every package README embeds its examples verbatim, each after a marker line
 * `<!-- example: examples/name.mjs -->`, and every example runs against the built packages
 * (CI builds before jest).
 */
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** The examples a README embeds: `{ file, code }` for each marked ```js block. */
export function embeddedExamples(pkgDir: string): Array<{ file: string; code: string }> {
  const readme = readFileSync(join(pkgDir, 'README.md'), 'utf8');
  const out: Array<{ file: string; code: string }> = [];
  const re = /<!-- example: (\S+) -->\n```js\n([\s\S]*?)```/g;
  for (let m = re.exec(readme); m !== null; m = re.exec(readme)) out.push({ file: m[1] as string, code: m[2] as string });
  return out;
}

/** Asserts that the README embeds every `examples/*.mjs` of the package, each exactly as on disk. */
export function expectReadmeEmbedsExamples(pkgDir: string): void {
  const files = readdirSync(join(pkgDir, 'examples')).filter((f) => f.endsWith('.mjs'));
  const blocks = embeddedExamples(pkgDir);
  expect(blocks.map((b) => b.file).sort()).toEqual(files.map((f) => `examples/${f}`).sort());
  for (const b of blocks) expect(b.code).toBe(readFileSync(join(pkgDir, b.file), 'utf8'));
}

/**
 * Runs `node <example> ...args` in the package folder and resolves with its stdout. `builtDirs`
 * are the packages whose `dist/` it imports: a missing build fails with a clear message.
 */
export function runExample(pkgDir: string, example: string, args: string[] = [], builtDirs: string[] = [pkgDir]): Promise<string> {
  for (const dir of builtDirs) {
    if (!existsSync(join(dir, 'dist', 'index.js'))) throw new Error(`${dir}/dist is missing: run \`pnpm build\` first`);
  }
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [example, ...args], { cwd: pkgDir, timeout: 20_000 }, (err, stdout, stderr) =>
      err ? reject(new Error(`${example} failed: ${err.message}\n${stderr}`)) : resolve(stdout),
    );
  });
}
