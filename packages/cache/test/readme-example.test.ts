import { join } from 'node:path';
import { expectReadmeEmbedsExamples, runExample } from '../../../test-support/examples';

const pkg = join(__dirname, '..');

describe('README example', () => {
  it('embeds every example verbatim', () => expectReadmeEmbedsExamples(pkg));

  it('runs examples/read-through.mjs: one lookup for 100 concurrent gets, stale served while it refreshes', async () => {
    const stdout = await runExample(pkg, 'examples/read-through.mjs', [], [pkg, join(pkg, '..', 'core')]);
    expect(stdout.trim().split('\n')).toEqual([
      'session of alice: token-1',
      'session of bob: undefined',
      '100 concurrent gets: 1 lookup, version 1 for all: true',
      'after its TTL: served version 1 at once, refreshing in the background',
      'then: version 2, 2 lookups in all',
      'stats: hits=1 staleHits=1 lockHits=99 lookups=2',
    ]);
  });
});
