/**
 * The README embeds each example verbatim, and each example runs against the built package
 * (build first: `pnpm build`; CI builds before jest).
 */
import * as path from 'node:path';
import { expectReadmeEmbedsExamples, runExample } from '../../../test-support/examples';

const pkg = path.join(__dirname, '..');

test('README embeds every example verbatim', () => expectReadmeEmbedsExamples(pkg));

test('examples/basic.mjs runs against the built package', async () => {
  const out = await runExample(pkg, 'examples/basic.mjs');
  expect(out).toContain('200 hello from /a (new connection)');
  expect(out).toContain('200 hello from /c (reused connection)');
  expect(out).toMatch(/newConnections: 1,\s+reusedConnections: 2/);
});
