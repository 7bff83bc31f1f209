import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expectReadmeEmbedsExamples, runExample } from '../../../test-support/examples';

const pkg = join(__dirname, '..');

test('the README embeds examples/logs.mjs verbatim', () => expectReadmeEmbedsExamples(pkg));

test('the example writes both logs', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'pts-obs-ex-'));
  try {
    const out = await runExample(pkg, 'examples/logs.mjs', [dir]);
    const lines = out.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.map((l) => l.msg ?? l.path)).toEqual(['listening', 'backend unhealthy', '/', '/x']);
    expect(lines[3]).toMatchObject({ status: 502, error: 'NoHealthyUpstream' });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
