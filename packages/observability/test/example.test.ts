import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const pkg = join(__dirname, '..');
const example = join(pkg, 'examples', 'logs.mjs');

test('the README embeds examples/logs.mjs verbatim', () => {
  const readme = readFileSync(join(pkg, 'README.md'), 'utf8');
  expect(readme).toContain('```js\n' + readFileSync(example, 'utf8') + '```\n');
});

test('the example writes both logs', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'pts-obs-ex-'));
  try {
    const out = await new Promise<string>((resolve, reject) =>
      execFile(process.execPath, [example, dir], { cwd: pkg, timeout: 10000 }, (err, stdout, stderr) =>
        err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(stdout),
      ),
    );
    const lines = out.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.map((l) => l.msg ?? l.path)).toEqual(['listening', 'backend unhealthy', '/', '/x']);
    expect(lines[3]).toMatchObject({ status: 502, error: 'NoHealthyUpstream' });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
