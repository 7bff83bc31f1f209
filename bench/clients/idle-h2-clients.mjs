// `node idle-h2-clients.mjs PORT COUNT [CONCURRENCY]`: the h2c twin of idle-clients.mjs. Opens
// COUNT HTTP/2 connections (prior knowledge) to 127.0.0.1:PORT, at most CONCURRENCY opening at
// once; each sends one GET / and reads the whole response, then stays open and idle. Prints
// {"event":"ready","open":N,...}; on "count\n" from stdin prints {"event":"count","open":N};
// on SIGTERM or stdin end it destroys every session and exits.
import http2 from 'node:http2';
import { createInterface } from 'node:readline';

const [port, countArg, concArg] = process.argv.slice(2);
const count = Number(countArg);
const concurrency = Number(concArg ?? 256);
const TIMEOUT_MS = 10_000;

/** @type {Set<http2.ClientHttp2Session>} */
const open = new Set();
let failed = 0;
let firstError = '';

/** Opens one session and resolves once its GET has fully answered (or it failed). */
function one() {
  return new Promise((resolve) => {
    const s = http2.connect(`http://127.0.0.1:${port}`);
    let settled = false;
    const fail = (/** @type {string} */ why) => {
      if (settled) return;
      settled = true;
      failed++;
      firstError ||= why;
      clearTimeout(timer);
      s.destroy();
      resolve(undefined);
    };
    const timer = setTimeout(() => fail('timeout'), TIMEOUT_MS);
    s.on('error', (err) => fail(err.message));
    s.on('goaway', (code) => fail(`GOAWAY ${code}`));
    const req = s.request({ ':path': '/' });
    req.on('error', (err) => fail(err.message));
    req.on('response', (h) => {
      if (h[':status'] !== 200) fail(`status ${h[':status']}`);
    });
    req.resume();
    req.on('end', () => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      s.removeAllListeners('error');
      s.on('error', () => {});
      s.on('close', () => open.delete(s));
      open.add(s);
      resolve(undefined);
    });
    req.end();
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
  for (const s of open) s.destroy();
  process.exit(0);
}
process.on('SIGTERM', shutdown);
const rl = createInterface({ input: process.stdin });
rl.on('line', (line) => {
  if (line.trim() === 'count') process.stdout.write(`${JSON.stringify({ event: 'count', open: open.size })}\n`);
});
rl.on('close', shutdown);
