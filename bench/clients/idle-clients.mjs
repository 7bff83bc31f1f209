// `node idle-clients.mjs PORT COUNT [CONCURRENCY]`: opens COUNT keep-alive connections to
// 127.0.0.1:PORT, at most CONCURRENCY opening at once; each sends one GET / and reads the whole
// response, then stays open and idle. Prints one JSON line {"event":"ready","open":N,...};
// on "count\n" from stdin prints {"event":"count","open":N}; on SIGTERM or stdin end it resets
// every connection (no TIME_WAIT left behind) and exits.
import { connect } from 'node:net';
import { createInterface } from 'node:readline';

const [port, countArg, concArg] = process.argv.slice(2);
const count = Number(countArg);
const concurrency = Number(concArg ?? 256);
const REQUEST = Buffer.from('GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: keep-alive\r\n\r\n');
const TIMEOUT_MS = 10_000;

/** @type {Set<import('node:net').Socket>} */
const open = new Set();
let failed = 0;
let firstError = '';

/** Opens one connection and resolves once its response has fully arrived (or it failed). */
function one() {
  return new Promise((resolve) => {
    const s = connect({ port: Number(port), host: '127.0.0.1', noDelay: true });
    let buf = '';
    const fail = (/** @type {string} */ why) => {
      failed++;
      firstError ||= why;
      s.destroy();
      resolve(undefined);
    };
    const timer = setTimeout(() => fail('timeout'), TIMEOUT_MS);
    s.on('error', (err) => fail(err.message));
    s.on('connect', () => s.write(REQUEST));
    s.on('data', function onData(d) {
      buf += d.toString('latin1');
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      const len = /\r\ncontent-length:\s*(\d+)/i.exec(buf.slice(0, end));
      const done = len ? buf.length >= end + 4 + Number(len[1]) : buf.endsWith('0\r\n\r\n');
      if (!done) return;
      clearTimeout(timer);
      if (!buf.startsWith('HTTP/1.1 200')) return fail(buf.slice(0, buf.indexOf('\r\n')));
      s.off('data', onData);
      s.removeAllListeners('error');
      s.on('error', () => {});
      s.on('close', () => open.delete(s));
      open.add(s);
      resolve(undefined);
    });
  });
}

const t0 = Date.now();
let next = 0;
await Promise.all(
  Array.from({ length: Math.min(concurrency, count) }, async () => {
    while (next < count) {
      next++;
      await one();
    }
  }),
);
process.stdout.write(`${JSON.stringify({ event: 'ready', open: open.size, failed, firstError, ms: Date.now() - t0 })}\n`);

function shutdown() {
  for (const s of open) s.resetAndDestroy();
  process.exit(0);
}
process.on('SIGTERM', shutdown);
const rl = createInterface({ input: process.stdin });
rl.on('line', (line) => {
  if (line.trim() === 'count') process.stdout.write(`${JSON.stringify({ event: 'count', open: open.size })}\n`);
});
rl.on('close', shutdown);
