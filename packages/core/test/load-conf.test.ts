import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { ConfError, formatConfPath, loadConfFile, parseConf, serverConfSchema, validateConf, type ServerConf } from '@pingora-ts/core';
import { cleanup, tempDir } from './helpers';

afterEach(cleanup);

const DEFAULTS: ServerConf = {
  version: 1,
  threads: 1,
  pid_file: '/tmp/pingora-ts.pid',
  upgrade_sock: '/tmp/pingora-ts_upgrade.sock',
  daemon: false,
  upstream_keepalive_pool_size: 128,
  max_retries: 16,
  work_stealing: true,
};

/** An app's conf: the server keys plus its own section, as apps/load_balancer does. */
const appSchema = serverConfSchema.extend({
  services: z
    .array(
      z.strictObject({
        name: z.string(),
        upstreams: z.strictObject({ backends: z.array(z.string()).min(1), algorithm: z.enum(['round_robin', 'random']).default('round_robin') }),
      }),
    )
    .default([]),
});

function confError(text: string, schema: z.ZodType = serverConfSchema): ConfError {
  try {
    parseConf(text, 'conf.yaml', schema);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfError);
    expect((err as ConfError).message).not.toContain('\n');
    return err as ConfError;
  }
  throw new Error('expected a ConfError');
}

test('an empty file, or one with only comments, gives every default', () => {
  expect(parseConf('', 'conf.yaml')).toEqual(DEFAULTS);
  expect(parseConf('# nothing here\n', 'conf.yaml')).toEqual(DEFAULTS);
  expect(validateConf({})).toEqual(DEFAULTS);
});

test('Pingora keys are read, optional ones stay absent when unset', () => {
  const conf = parseConf('threads: 4\ndaemon: true\ngraceful_shutdown_timeout_seconds: 2\nerror_log: /var/log/e.log\nuser: nobody\n', 'conf.yaml');
  expect(conf).toEqual({ ...DEFAULTS, threads: 4, daemon: true, graceful_shutdown_timeout_seconds: 2, error_log: '/var/log/e.log', user: 'nobody' });
  expect('grace_period_seconds' in conf).toBe(false);
});

test('a wrong type names the key, the place, what was expected and what was found', () => {
  const e = confError('version: 1\n\nthreads: two\n');
  expect(e.message).toBe('conf.yaml:3:10: threads: expected an integer >= 1, got "two"');
  expect(e).toMatchObject({ file: 'conf.yaml', keyPath: 'threads', line: 3, column: 10, kind: 'ConfigError' });
  expect(confError('daemon: yes\n').message).toBe('conf.yaml:1:9: daemon: expected true or false, got "yes"');
  expect(confError('max_retries: -1\n').message).toBe('conf.yaml:1:14: max_retries: expected an integer >= 0, got -1');
  expect(confError('threads:\n').message).toBe('conf.yaml:1:1: threads: expected an integer >= 1, got an empty value');
  expect(confError('- a\n').message).toBe('conf.yaml:1:1: expected a mapping, got a list');
});

test('an unknown key: its full path, its own line, and a did-you-mean when close', () => {
  const text = ['services:', '  - name: web', '    upstreams:', '      backends: [127.0.0.1:8000]', '      algoritm: random', ''].join('\n');
  const e = confError(text, appSchema);
  expect(e.message).toBe('conf.yaml:5:7: services[0].upstreams.algoritm: unknown key (did you mean "algorithm"?)');
  expect(e).toMatchObject({ keyPath: 'services[0].upstreams.algoritm', line: 5, column: 7 });
  expect(confError('thread: 2\n').message).toBe('conf.yaml:1:1: thread: unknown key (did you mean "threads"?)');
  expect(confError('zzz: 2\n').message).toBe('conf.yaml:1:1: zzz: unknown key');
});

test('several issues: one per unknown key, in file order, the first one in the message', () => {
  const e = confError('bogus: 1\nthreads: 0\npid_fil: /tmp/x\nother: 2\n');
  expect(e.issues.map((i) => i.message)).toEqual([
    'conf.yaml:1:1: bogus: unknown key',
    'conf.yaml:2:10: threads: expected an integer >= 1, got 0',
    'conf.yaml:3:1: pid_fil: unknown key (did you mean "pid_file"?)',
    'conf.yaml:4:1: other: unknown key',
  ]);
  expect(e.message).toBe(e.issues[0]?.message);
});

test('a misspelt required key reports the unknown key first, then the missing one', () => {
  const e = confError('services:\n  - name: a\n    upstreams:\n      backend: [x]\n', appSchema);
  expect(e.issues.map((i) => i.message)).toEqual([
    'conf.yaml:4:7: services[0].upstreams.backend: unknown key (did you mean "backends"?)',
    'conf.yaml:4:7: services[0].upstreams.backends: missing required key (expected a list)',
  ]);
});

test('enum and list-length problems read plainly', () => {
  expect(confError('services:\n  - name: a\n    upstreams:\n      backends: [x]\n      algorithm: rr\n', appSchema).message).toBe(
    'conf.yaml:5:18: services[0].upstreams.algorithm: expected one of "round_robin", "random", got "rr"',
  );
  expect(confError('services:\n  - name: a\n    upstreams: { backends: [] }\n', appSchema).message).toBe(
    'conf.yaml:3:28: services[0].upstreams.backends: expected at least 1 item, got 0',
  );
});

test('YAML syntax errors are ConfErrors with a place', () => {
  const e = confError('threads: 1\npid_file: [a, b\ndaemon: true\n');
  expect(e.message).toMatch(/^conf\.yaml:3:1: invalid YAML: /);
  expect(confError('a: 1\na: 2\n').message).toBe('conf.yaml:2:1: invalid YAML: Map keys must be unique');
});

test('a missing file is a ConfError naming the file', () => {
  const file = join(tempDir(), 'nope.yaml');
  expect(() => loadConfFile(file)).toThrow(ConfError);
  expect(() => loadConfFile(file)).toThrow(`${file}: cannot read the file (ENOENT: no such file or directory)`);
});

test('loadConfFile reads a file with the default or an app schema', () => {
  const file = join(tempDir(), 'conf.yaml');
  writeFileSync(file, 'threads: 2\nservices:\n  - name: web\n    upstreams: { backends: ["127.0.0.1:80"] }\n');
  expect(() => loadConfFile(file)).toThrow(`${file}:2:1: services: unknown key`);
  const conf = loadConfFile(file, appSchema);
  expect(conf.threads).toBe(2);
  expect(conf.services[0]?.upstreams).toEqual({ backends: ['127.0.0.1:80'], algorithm: 'round_robin' });
});

test('extend() keeps the schema strict, for old and new keys alike', () => {
  expect(confError('services: []\nbogus: 1\n', appSchema).message).toBe('conf.yaml:2:1: bogus: unknown key');
  expect(confError('servics: []\n', appSchema).message).toBe('conf.yaml:1:1: servics: unknown key (did you mean "services"?)');
  expect(appSchema.safeParse({ extra: 1 }).success).toBe(false);
});

test('formatConfPath', () => {
  expect(formatConfPath(['services', 0, 'upstreams', 'bogus'])).toBe('services[0].upstreams.bogus');
  expect(formatConfPath([])).toBe('');
  expect(formatConfPath(['routes', 'a.b', 2])).toBe('routes["a.b"][2]');
});

test('a conf object is validated too, without positions', () => {
  expect(() => validateConf({ threads: 0 })).toThrow('<options.conf>: threads: expected an integer >= 1, got 0');
});
