import { join } from 'node:path';
import { expectReadmeEmbedsExamples, runExample } from '../../../test-support/examples';

const pkg = join(__dirname, '..');

describe('README example', () => {
  it('embeds every example verbatim', () => expectReadmeEmbedsExamples(pkg));

  it('runs examples/selection.mjs: Ketama moves only the keys of the backend that left, LeastConn avoids the busy one', async () => {
    const stdout = await runExample(pkg, 'examples/selection.mjs', [], [pkg, join(pkg, '..', 'core')]);
    const lines = stdout.trim().split('\n');
    expect(lines.slice(0, 4)).toEqual(['ann -> 10.0.0.3:8080', 'bob -> 10.0.0.3:8080', 'cyd -> 10.0.0.2:8080', 'dan -> 10.0.0.1:8080']);
    expect(lines[4]).toBe('10.0.0.2 left: 3143 of 10000 keys moved, 3143 of them its own');
    expect(lines.slice(5, 9).every((l) => !l.includes('10.0.0.1:'))).toBe(true);
    expect(lines.slice(9)).toEqual(['in flight on 10.0.0.1:8080: 1', 'in flight on 10.0.0.1:8080 after it ended: 0']);
  });

  it('runs: splits requests 1:2 by weight, and the stopped backend leaves the rotation', async () => {
    const stdout = await runExample(pkg, 'examples/client-side.mjs', [], [pkg, join(pkg, '..', 'core')]);
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
