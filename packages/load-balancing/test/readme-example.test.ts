import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const pkg = join(__dirname, '..');
const examplePath = join(pkg, 'examples', 'client-side.mjs');

/** The body of the first ```js block after `heading` in the README. */
function codeBlockAfter(readme: string, heading: string): string {
  const at = readme.indexOf(heading);
  if (at < 0) throw new Error(`README has no "${heading}"`);
  const open = readme.indexOf('```js\n', at);
  const close = readme.indexOf('\n```\n', open);
  if (open < 0 || close < 0) throw new Error(`no js block after "${heading}"`);
  return readme.slice(open + '```js\n'.length, close + 1);
}

describe('README example', () => {
  it('embeds examples/client-side.mjs verbatim', () => {
    const readme = readFileSync(join(pkg, 'README.md'), 'utf8');
    expect(codeBlockAfter(readme, '## Example')).toBe(readFileSync(examplePath, 'utf8'));
  });

  it('runs: splits requests 1:2 by weight, and the stopped backend leaves the rotation', async () => {
    if (!existsSync(join(pkg, 'dist', 'index.js'))) {
      throw new Error('packages/load-balancing/dist is missing: run `pnpm build` in packages/load-balancing first');
    }
    const stdout = await new Promise<string>((resolve, reject) => {
      execFile(process.execPath, [examplePath], { cwd: pkg, timeout: 20_000 }, (err, out, errOut) => {
        if (err) reject(new Error(`example failed: ${err.message}\n${errOut}`));
        else resolve(out);
      });
    });
    const lines = stdout.trim().split('\n');
    const addrs = /backends: alpha=(\S+) \(weight 1\), beta=(\S+) \(weight 2\)/.exec(stdout);
    expect(addrs).not.toBeNull();
    const beta = addrs![2]!;

    expect(lines).toContain('answers: alpha=3 beta=6');
    expect(lines.filter((l) => /^request \d+ -> /.test(l))).toHaveLength(12);
    const stopAt = lines.indexOf('stopping beta');
    expect(stopAt).toBeGreaterThan(0);
    const after = lines.slice(stopAt + 1);
    expect(after[0]).toMatch(new RegExp(`^health: ${beta.replace(/\./g, '\\.')} is unhealthy \\(.*ECONNREFUSED`));
    expect(after.filter((l) => l.startsWith('request ')).every((l) => l.includes('-> alpha'))).toBe(true);
    expect(lines[lines.length - 1]).toBe('answers after beta stopped: alpha=3 beta=0');
  });
});
