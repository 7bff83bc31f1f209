/**
 * The README embeds each example verbatim, and each example runs against the built package
 * (build first: `pnpm build`; CI builds before jest).
 */
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

const pkg = path.join(__dirname, '..');

function embedded(): Array<{ file: string; code: string }> {
  const readme = fs.readFileSync(path.join(pkg, 'README.md'), 'utf8');
  const out: Array<{ file: string; code: string }> = [];
  const re = /<!-- example: (\S+) -->\n```js\n([\s\S]*?)```/g;
  for (let m = re.exec(readme); m !== null; m = re.exec(readme)) out.push({ file: m[1] as string, code: m[2] as string });
  return out;
}

test('README embeds every example verbatim', () => {
  const examples = fs.readdirSync(path.join(pkg, 'examples')).filter((f) => f.endsWith('.mjs'));
  const blocks = embedded();
  expect(blocks.map((b) => b.file).sort()).toEqual(examples.map((f) => `examples/${f}`).sort());
  for (const b of blocks) expect(b.code).toBe(fs.readFileSync(path.join(pkg, b.file), 'utf8'));
});

test('examples/basic.mjs runs against the built package', async () => {
  if (!fs.existsSync(path.join(pkg, 'dist', 'index.js'))) throw new Error('packages/pool/dist is missing: run `pnpm build` first');
  const out = await new Promise<string>((resolve, reject) => {
    execFile(process.execPath, ['examples/basic.mjs'], { cwd: pkg, timeout: 10_000 }, (err, stdout, stderr) =>
      err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(stdout),
    );
  });
  expect(out).toContain('200 hello from /a (new connection)');
  expect(out).toContain('200 hello from /c (reused connection)');
  expect(out).toMatch(/newConnections: 1,\s+reusedConnections: 2/);
});
