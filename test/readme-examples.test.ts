/**
 * Every published package's README shows at least one runnable example, embedded from its
 * `examples/` folder, and the package's own tests keep it honest: one checks the README
 * embeds each example verbatim (`expectReadmeEmbedsExamples`), and each example file is run
 * by a test (against the built package, on 127.0.0.1). A new package (or a new example)
 * without those fails here.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { embeddedExamples } from '../test-support/examples';

const root = join(__dirname, '..');
const packages = readdirSync(join(root, 'packages')).filter((name) => {
  const manifest = join(root, 'packages', name, 'package.json');
  return existsSync(manifest) && !(JSON.parse(readFileSync(manifest, 'utf8')) as { private?: boolean }).private;
});

/** The text of every test file of a package. */
function testSources(pkgDir: string): string {
  return readdirSync(join(pkgDir, 'test'))
    .filter((f) => f.endsWith('.test.ts'))
    .map((f) => readFileSync(join(pkgDir, 'test', f), 'utf8'))
    .join('\n');
}

test('there are published packages to check', () => expect(packages.length).toBeGreaterThanOrEqual(5));

describe.each(packages)('packages/%s', (name) => {
  const pkgDir = join(root, 'packages', name);

  test('its README embeds at least one example from examples/', () => {
    expect(embeddedExamples(pkgDir).length).toBeGreaterThan(0);
  });

  test('its tests check the README embeds each example verbatim, and run each one', () => {
    const sources = testSources(pkgDir);
    expect(sources).toContain('expectReadmeEmbedsExamples(');
    for (const { file } of embeddedExamples(pkgDir)) {
      const base = file.slice(file.lastIndexOf('/') + 1);
      expect({ file, runByATest: sources.includes(base) }).toEqual({ file, runByATest: true });
    }
  });
});
