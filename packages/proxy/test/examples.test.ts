/**
 * The README embeds each example verbatim, and each example runs against the built package
 * (build first: `pnpm build`; CI builds before jest).
 */
import * as path from 'node:path';
import { expectReadmeEmbedsExamples, runExample } from '../../../test-support/examples';

const pkg = path.join(__dirname, '..');

test('README embeds every example verbatim', () => expectReadmeEmbedsExamples(pkg));

test('examples/websocket.mjs runs against the built package', async () => {
  const out = await runExample(pkg, 'examples/websocket.mjs', [], [pkg, path.join(pkg, '..', 'pool'), path.join(pkg, '..', 'core')]);
  expect(out).toContain('-> echo: hello');
  expect(out).toMatch(/^GET \/chat 101: \d+B up, \d+B down, closed$/m);
});

test('examples/own-proxy.mjs runs against the built package', async () => {
  const out = await runExample(pkg, 'examples/own-proxy.mjs', [], [pkg, path.join(pkg, '..', 'pool'), path.join(pkg, '..', 'core')]);
  expect(out).toMatch(/^GET \/health 200 3B [\d.]+ms -$/m);
  expect(out).toContain('-> 200 ok');
  expect(out).toMatch(/^GET \/hello 200 \d+B [\d.]+ms 127\.0\.0\.1:\d+ new$/m);
  expect(out).toMatch(/^GET \/again 200 \d+B [\d.]+ms 127\.0\.0\.1:\d+ reused$/m);
  expect(out).toContain('-> 200 upstream got /hello via pingora-ts (example)');
});

test('examples/caching-proxy.mjs runs against the built package', async () => {
  const built = [pkg, path.join(pkg, '..', 'pool'), path.join(pkg, '..', 'core'), path.join(pkg, '..', 'cache')];
  const out = await runExample(pkg, 'examples/caching-proxy.mjs', [], built);
  expect(out).toContain('-> 200 MISS "page /hello\\n"');
  expect(out).toContain('-> 200 HIT "page /hello\\n"');
  expect(out).toContain('-> 304 REVALIDATED ""');
  expect(out).toContain('-> 206 HIT "page"');
  expect(out).toMatch(/^PURGE \/hello 200 null$/m);
  expect(out).toContain('the origin was asked 3 times');
});
