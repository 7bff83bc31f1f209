import { join } from 'node:path';
import { expectReadmeEmbedsExamples, runExample } from '../../../test-support/examples';
import { expectBalancedDispatcherRun } from './helpers/balanced-example-output';

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

  it('runs balanced-dispatcher.mjs: beta killed during 300 GETs, no request fails, beta leaves the rotation', async () => {
    const stdout = await runExample(pkg, 'examples/balanced-dispatcher.mjs', [], [pkg, join(pkg, '..', 'core')]);
    expectBalancedDispatcherRun(stdout);
  });

  it('custom discovery: follows a Consul-like catalog through its blocking queries', async () => {
    const stdout = await runExample(pkg, 'examples/custom-discovery.mjs', [], [pkg, join(pkg, '..', 'core')]);
    expect(stdout.trim().split('\n')).toEqual([
      'backends: 127.0.0.1:9001 (weight 1)',
      'backends: 127.0.0.1:9001 (weight 1), 127.0.0.1:9002 (weight 2)',
      '3 picks: 127.0.0.1:9002=2 127.0.0.1:9001=1',
      'backends: 127.0.0.1:9002 (weight 2)',
    ]);
  });

  it('runtime control: a removed backend drains, its in-flight request completes; weight, disable, enable', async () => {
    const stdout = await runExample(pkg, 'examples/runtime-control.mjs', [], [pkg, join(pkg, '..', 'core')]);
    expect(stdout.trim().split('\n')).toEqual([
      'alpha removed with 1 request in flight; 4 requests: beta=4',
      'drained: alpha',
      'in-flight request completed: alpha (slow)',
      'alpha back, beta weight 3; 8 requests: beta=6 alpha=2',
      'beta disabled; 4 requests: alpha=4',
      'beta enabled; 4 requests: beta=3 alpha=1',
    ]);
  });

  it('runs health-checks.mjs: an HTTP check takes beta out and back, passive health ejects alpha and an active check lets it back', async () => {
    const stdout = await runExample(pkg, 'examples/health-checks.mjs', [], [pkg, join(pkg, '..', 'core')]);
    expect(stdout.trim().split('\n')).toEqual([
      'beta /health answers 503',
      'health: beta is unhealthy (HTTP health check of beta: status 503 outside 200-299)',
      'request -> alpha 200',
      'request -> alpha 200',
      'health: beta is healthy',
      'alpha answers 502 to live requests (its /health still passes)',
      'request -> alpha 502',
      'request -> beta 200',
      'request -> alpha 502',
      'request -> beta 200',
      'request -> alpha 502',
      'ejection: alpha ejected (consecutive_5xx)',
      'request -> beta 200',
      'ejection: alpha back (active_check)',
      'request -> alpha 200',
    ]);
  });
});

