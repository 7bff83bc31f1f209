import { Opt, OptError } from '@pingora-ts/core';

test('no arguments: every flag off, no conf', () => {
  expect({ ...Opt.parse([]) }).toEqual({ help: false, version: false, daemon: false, test: false, upgrade: false });
});

test.each([
  [['-h'], { help: true }],
  [['--help'], { help: true }],
  [['-V'], { version: true }],
  [['--version'], { version: true }],
  [['-d'], { daemon: true }],
  [['--daemon'], { daemon: true }],
  [['-t'], { test: true }],
  [['--test'], { test: true }],
  [['-u'], { upgrade: true }],
  [['--upgrade'], { upgrade: true }],
  [['-c', 'a.yaml'], { conf: 'a.yaml' }],
  [['--conf', 'a.yaml'], { conf: 'a.yaml' }],
  [['--conf=a.yaml'], { conf: 'a.yaml' }],
  [['-ca.yaml'], { conf: 'a.yaml' }],
  [['-dt'], { daemon: true, test: true }],
  [['-dtc', 'a.yaml'], { daemon: true, test: true, conf: 'a.yaml' }],
  [['-d', '--conf', 'x/y.yaml', '-u'], { daemon: true, conf: 'x/y.yaml', upgrade: true }],
])('%j', (argv, expected) => {
  expect(Opt.parse(argv)).toMatchObject(expected);
});

test.each([
  [['-x'], "unknown option '-x' (see --help)"],
  [['-dx'], "unknown option '-x' (see --help)"],
  [['--bogus'], "unknown option '--bogus' (see --help)"],
  [['-c'], "option '-c' needs a value: -c <FILE>"],
  [['-c', '-d'], "option '-c' needs a value: -c <FILE>"],
  [['--conf'], "option '--conf' needs a value: --conf <FILE>"],
  [['--conf='], "option '--conf' needs a value: --conf <FILE>"],
  [['--daemon=yes'], "option '--daemon' takes no value"],
  [['conf.yaml'], "unexpected argument 'conf.yaml' (see --help)"],
])('%j throws OptError', (argv, message) => {
  const attempt = (): Opt => Opt.parse(argv);
  expect(attempt).toThrow(OptError);
  expect(attempt).toThrow(message);
  expect(message).not.toContain('\n');
});

test('built by hand, unset fields are false', () => {
  expect(new Opt({ daemon: true })).toMatchObject({ daemon: true, test: false, help: false });
});

test('usage describes every flag', () => {
  const text = Opt.usage('lb');
  expect(text.startsWith('Usage: lb [OPTIONS]\n')).toBe(true);
  for (const flag of ['-h, --help', '-V, --version', '-c, --conf <FILE>', '-d, --daemon', '-t, --test', '-u, --upgrade']) {
    expect(text).toContain(flag);
  }
});
