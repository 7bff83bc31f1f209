// Access-log cost per line: the old pino logger (sonic-boom, async 4 KiB writes) against
// AccessLogger (template line, per-ms timestamp, 64 KiB writeSync batches), both to a file;
// and AccessLogger's combined format (with referer and user agent) against its JSON.
//   pnpm build && node bench/access-log.mjs [lines]     (default 1e6)
import { mkdtempSync, openSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { AccessLogger } from '../dist/index.js';

const N = Number(process.argv[2] ?? 1e6);
const dir = mkdtempSync(join(tmpdir(), 'pts-access-bench-'));

function entry(i) {
  return {
    method: 'GET',
    path: `/item/${i}?q=1`,
    status: 200,
    bytes: 1234,
    durationMs: 0.731,
    client: '127.0.0.1:53210',
    upstream: '127.0.0.1:8001',
    reused: true,
    retries: 0,
    error: null,
    httpVersion: '1.1',
    referer: 'https://example.com/page',
    userAgent: 'Mozilla/5.0 (X11; Linux x86_64) bench/1.0',
  };
}

/** Logs N lines and flushes; returns { seconds, bytes } for the file. */
async function run(name, make) {
  const file = join(dir, `${name}.log`);
  const { log, flush } = make(file);
  const t0 = process.hrtime.bigint();
  // Yield every 1000 lines, as a server does between requests, so asynchronous writes can run.
  for (let i = 0; i < N; i++) {
    log(entry(i));
    if (i % 1000 === 999) await new Promise(setImmediate);
  }
  await flush();
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  return { seconds, bytes: statSync(file).size };
}

// The previous AccessLogger, inlined: pino, no base, ISO time, async sonic-boom with 4 KiB minLength.
function pinoLogger(file) {
  const dest = pino.destination({ fd: openSync(file, 'a'), sync: false, minLength: 4096 });
  const logger = pino({ base: null, timestamp: pino.stdTimeFunctions.isoTime }, dest);
  return {
    log: (e) => logger.info(e),
    flush: () => new Promise((resolve, reject) => logger.flush((err) => (err ? reject(err) : resolve()))),
  };
}

function newLogger(file) {
  const logger = new AccessLogger({ path: file });
  return { log: (e) => logger.log(e), flush: () => logger.flush() };
}

function combinedLogger(file) {
  const logger = new AccessLogger({ path: file, format: 'combined' });
  return { log: (e) => logger.log(e), flush: () => logger.flush() };
}

try {
  // One warm-up round each, then the measured round.
  await run('warm-pino', pinoLogger);
  await run('warm-new', newLogger);
  await run('warm-combined', combinedLogger);
  const old = await run('pino', pinoLogger);
  const cur = await run('new', newLogger);
  const combined = await run('combined', combinedLogger);
  const fmt = (r) => `${Math.round(N / r.seconds).toLocaleString('en-US')} lines/s (${r.seconds.toFixed(2)} s, ${(r.bytes / 1e6).toFixed(0)} MB)`;
  console.log(`node ${process.version}, ${N.toLocaleString('en-US')} lines to a file in ${tmpdir()}`);
  console.log(`pino (old)     ${fmt(old)}`);
  console.log(`AccessLogger   ${fmt(cur)}`);
  console.log(`ratio          ${(old.seconds / cur.seconds).toFixed(2)}x`);
  console.log(`AccessLogger, combined format  ${fmt(combined)}`);
  console.log(`combined / JSON time           ${(combined.seconds / cur.seconds).toFixed(2)}`);
  if (old.bytes !== cur.bytes) console.log(`note: file sizes differ (${old.bytes} vs ${cur.bytes})`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
