import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { AccessLogger, createErrorLogger, type AccessLogEntry, type ErrorLogger } from '@pingora-ts/observability';

const dist = join(__dirname, '..', 'dist', 'index.js');

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'pts-access-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function read(file: string): string {
  return existsSync(file) ? readFileSync(file, 'utf8') : '';
}
function parse(text: string): Record<string, unknown>[] {
  return text.trim() === '' ? [] : text.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
}
const entry = (i: number): AccessLogEntry => ({ method: 'GET', path: `/item/${i}`, status: 200, bytes: i, durationMs: 0.5 });

/** Runs an ES module snippet with `AccessLogger` imported from the built dist/. */
function child(code: string, opts: { closeStdout?: boolean } = {}): Promise<{ code: number | null; signal: string | null; stdout: string; stderr: string }> {
  if (!existsSync(dist)) throw new Error('packages/observability/dist is missing: run `pnpm build` first');
  const src = `import { AccessLogger } from ${JSON.stringify(pathToFileURL(dist).href)};\n${code}`;
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ['--input-type=module', '-e', src], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    if (opts.closeStdout) p.stdout.destroy();
    else p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => p.kill('SIGKILL'), 20_000);
    p.on('error', reject);
    p.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

test('the line: level 30, ISO time, then the entry fields in order; undefined fields left out', async () => {
  const file = join(dir, 'access.log');
  const log = new AccessLogger({ path: file });
  log.log({
    method: 'GET', path: '/a', status: 200, bytes: 12, durationMs: 1.25, client: '10.0.0.1:5000',
    upstream: '127.0.0.1:8001', reused: false, retries: 1, error: null,
  });
  log.log({ method: 'GET', path: '/b', status: 502, bytes: 0, durationMs: 3, client: undefined, upstream: null, reused: null });
  await log.flush();
  const text = read(file);
  const [a, b] = text.trim().split('\n');
  expect(a).toMatch(
    /^\{"level":30,"time":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z","method":"GET","path":"\/a","status":200,"bytes":12,"durationMs":1.25,"client":"10.0.0.1:5000","upstream":"127.0.0.1:8001","reused":false,"retries":1,"error":null\}$/,
  );
  expect(JSON.parse(b as string)).toEqual({
    level: 30, time: expect.any(String), method: 'GET', path: '/b', status: 502, bytes: 0, durationMs: 3, upstream: null, reused: null,
  });
  const time = (JSON.parse(a as string) as { time: string }).time;
  expect(new Date(time).toISOString()).toBe(time);
});

test('strings are JSON-escaped: quotes, backslash, newline, control characters and unicode round-trip', async () => {
  const file = join(dir, 'access.log');
  const log = new AccessLogger({ path: file });
  const paths = ['/say?q="hi"', '/back\\slash', '/line\nbreak\r\t', '/ctl\u0000\u0001\u001f\u007f', '/é/日本/😀', '/lone\ud800x', '/plain'];
  for (const path of paths) log.log({ method: 'G"ET', path, status: 200, bytes: 0, durationMs: 0, upstream: 'up\n"stream"', error: 'E\\rr' });
  await log.flush();
  const got = parse(read(file));
  expect(got.map((l) => l.path)).toEqual(paths);
  for (const l of got) expect(l).toMatchObject({ method: 'G"ET', upstream: 'up\n"stream"', error: 'E\\rr' });
});

test('non-finite numbers are written as null, as pino did', async () => {
  const file = join(dir, 'access.log');
  const log = new AccessLogger({ path: file });
  log.log({ method: 'GET', path: '/', status: 200, bytes: 0, durationMs: Number.NaN });
  await log.flush();
  expect(parse(read(file))[0]).toMatchObject({ durationMs: null });
});

test('batching: lines are held in memory until flush()', async () => {
  const file = join(dir, 'access.log');
  const log = new AccessLogger({ path: file });
  for (let i = 0; i < 10; i++) log.log(entry(i));
  expect(read(file)).toBe('');
  await log.flush();
  expect(parse(read(file)).map((l) => l.bytes)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
});

test('batching: lines are written within 200 ms without flush()', async () => {
  const file = join(dir, 'access.log');
  const log = new AccessLogger({ path: file });
  log.log(entry(1));
  log.log(entry(2));
  expect(read(file)).toBe('');
  await new Promise((r) => setTimeout(r, 350));
  expect(parse(read(file))).toHaveLength(2);
  log.log(entry(3)); // the timer re-arms for a later batch
  await new Promise((r) => setTimeout(r, 350));
  expect(parse(read(file)).map((l) => l.bytes)).toEqual([1, 2, 3]);
});

test('batching: a batch is written once the next line might not fit in 64 KiB, and ends on a line boundary', async () => {
  const file = join(dir, 'access.log');
  const log = new AccessLogger({ path: file });
  let i = 0;
  while (read(file) === '') log.log(entry(i++));
  const text = read(file);
  const longest = Math.max(...text.split('\n').map((l) => l.length + 1));
  // A line takes at most 3 bytes per character: the batch is written when that much is not left.
  expect(text.length).toBeLessThanOrEqual(64 * 1024);
  expect(text.length).toBeGreaterThan(64 * 1024 - 3 * longest);
  expect(text.endsWith('\n')).toBe(true);
  expect(parse(text)).toHaveLength(i - 1); // the line that did not fit starts the next batch
  await log.flush();
  expect(parse(read(file)).map((l) => l.bytes)).toEqual(Array.from({ length: i }, (_, k) => k));
});

test('batching: multi-byte lines across batches, and a line longer than a batch, are written whole and in order', async () => {
  const file = join(dir, 'access.log');
  const log = new AccessLogger({ path: file });
  const paths: string[] = [];
  for (let i = 0; i < 2000; i++) {
    // 3-byte characters (€), 4-byte ones (a surrogate pair), and every 500th line longer than a batch
    const path = i % 500 === 499 ? `/long/${'€'.repeat(30_000)}` : `/€/${i}/😀/${'x'.repeat(i % 97)}`;
    paths.push(path);
    log.log({ method: 'GET', path, status: 200, bytes: i, durationMs: 1 });
  }
  await log.flush();
  const lines = parse(read(file));
  expect(lines.map((l) => l.path)).toEqual(paths);
  expect(lines.map((l) => l.bytes)).toEqual(paths.map((_, i) => i));
});

test('a logger that is off writes nothing and counts nothing', async () => {
  const log = new AccessLogger({ path: false });
  log.log(entry(1));
  await log.flush();
  expect(log.enabled).toBe(false);
  expect(log.dropped).toBe(0);
});

test('exit: a process that logs and exits normally, without flush(), leaves every line in the file', async () => {
  const file = join(dir, 'sub', 'access.log');
  const r = await child(`
    const log = new AccessLogger({ path: ${JSON.stringify(file)} });
    for (let i = 0; i < 5000; i++) log.log({ method: 'GET', path: '/x/' + i, status: 200, bytes: i, durationMs: 1 });
    setTimeout(() => { for (let i = 5000; i < 5010; i++) log.log({ method: 'GET', path: '/x/' + i, status: 200, bytes: i, durationMs: 1 }); process.exit(0); }, 10);
  `);
  expect(r).toMatchObject({ code: 0, stderr: '' });
  const got = parse(read(file));
  expect(got).toHaveLength(5010);
  expect(got.map((l) => l.bytes)).toEqual(Array.from({ length: 5010 }, (_, i) => i));
});

test('exit: the event loop running dry (no process.exit) flushes too', async () => {
  const file = join(dir, 'access.log');
  const r = await child(`
    const log = new AccessLogger({ path: ${JSON.stringify(file)} });
    for (let i = 0; i < 3; i++) log.log({ method: 'GET', path: '/' + i, status: 200, bytes: i, durationMs: 1 });
  `);
  expect(r).toMatchObject({ code: 0, stderr: '' });
  expect(parse(read(file))).toHaveLength(3);
});

test("the 'stdout' target writes lines to standard output", async () => {
  const r = await child(`
    const log = new AccessLogger({ path: 'stdout' });
    for (let i = 0; i < 1000; i++) log.log({ method: 'GET', path: '/s/' + i, status: 200, bytes: i, durationMs: 1 });
    await log.flush();
    log.log({ method: 'GET', path: '/last', status: 204, bytes: 0, durationMs: 1 });
  `);
  expect(r).toMatchObject({ code: 0, stderr: '' });
  const got = parse(r.stdout);
  expect(got).toHaveLength(1001);
  expect(got[1000]).toMatchObject({ path: '/last', status: 204 });
});

test('a closed stdout pipe does not crash the process: the lines are dropped and counted', async () => {
  const r = await child(
    `
    await new Promise((resolve) => setTimeout(resolve, 300)); // the parent closes its end first
    const log = new AccessLogger({ path: 'stdout' });
    for (let i = 0; i < 2000; i++) log.log({ method: 'GET', path: '/p/' + i, status: 200, bytes: i, durationMs: 1 });
    await log.flush();
    for (let i = 0; i < 10; i++) log.log({ method: 'GET', path: '/after', status: 200, bytes: i, durationMs: 1 });
    await log.flush();
    process.stderr.write(JSON.stringify({ dropped: log.dropped, code: log.lastError && log.lastError.code }));
  `,
    { closeStdout: true },
  );
  expect(r.code).toBe(0);
  expect(JSON.parse(r.stderr)).toEqual({ dropped: 2010, code: 'EPIPE' });
});

describe('reopen (log rotation)', () => {
  test('lines buffered at the reopen go to the old file, later ones to the new file; none lost or split', async () => {
    const file = join(dir, 'access.log');
    const log = new AccessLogger({ path: file });
    for (let i = 0; i < 100; i++) log.log(entry(i));
    renameSync(file, `${file}.1`);
    log.reopen();
    for (let i = 100; i < 150; i++) log.log(entry(i));
    await log.flush();
    const old = parse(read(`${file}.1`));
    const now = parse(read(file));
    expect(old.map((l) => l.bytes)).toEqual(Array.from({ length: 100 }, (_, i) => i));
    expect(now.map((l) => l.bytes)).toEqual(Array.from({ length: 50 }, (_, i) => 100 + i));
  });

  test('a file that cannot be opened throws, and the logger keeps writing to the old one; stdout and off are no-ops', async () => {
    const sub = join(dir, 'logs');
    const file = join(sub, 'access.log');
    const log = new AccessLogger({ path: file });
    renameSync(sub, `${sub}.old`);
    writeFileSync(sub, 'a file where the folder was'); // mkdir and open now fail
    expect(() => log.reopen()).toThrow();
    log.log(entry(7));
    await log.flush();
    expect(parse(read(join(`${sub}.old`, 'access.log'))).map((l) => l.bytes)).toEqual([7]);
    expect(() => new AccessLogger({ path: 'stdout' }).reopen()).not.toThrow();
    expect(() => new AccessLogger({ path: false }).reopen()).not.toThrow();
  });

  test('the error logger reopens its file too, and so do its children', () => {
    const file = join(dir, 'error.log');
    const logger = createErrorLogger({ path: file });
    const child = logger.child({ service: 'web' });
    logger.info({}, 'before');
    renameSync(file, `${file}.1`);
    (child as ErrorLogger).reopen(); // typed as a plain pino child; the method is inherited
    child.info({}, 'after');
    expect(read(`${file}.1`)).toContain('"msg":"before"');
    expect(read(file)).toContain('"msg":"after"');
    expect(read(file)).not.toContain('before');
  });
});

test('combined format: nginx combined line; absent fields as -, quotes, backslashes, control and non-ASCII bytes as \\xHH', async () => {
  const file = join(dir, 'access.log');
  const log = new AccessLogger({ path: file, format: 'combined' });
  expect(log.format).toBe('combined');
  log.log({ method: 'GET', path: '/a?b=1', status: 200, bytes: 12, durationMs: 1, client: '10.0.0.1', httpVersion: '2.0', referer: 'http://r.example/', userAgent: 'agent "x" \\ é\n' });
  log.log({ method: 'POST', path: '/p', status: 502, bytes: 0, durationMs: 1 });
  await log.flush();
  const [a, b] = read(file).split('\n');
  expect(a).toMatch(/^10\.0\.0\.1 - - \[\d\d\/[A-Z][a-z]{2}\/\d{4}:\d\d:\d\d:\d\d [+-]\d{4}\] "GET \/a\?b=1 HTTP\/2\.0" 200 12 "http:\/\/r\.example\/" "agent \\x22x\\x22 \\x5C \\xC3\\xA9\\x0A"$/);
  expect(b).toMatch(/^- - - \[[^\]]+\] "POST \/p HTTP\/1\.1" 502 0 "-" "-"$/);
});
