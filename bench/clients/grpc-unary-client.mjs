// `node grpc-unary-client.mjs PORT SECONDS CONCURRENCY [BYTES]`: one @grpc/grpc-js channel to
// 127.0.0.1:PORT (h2c), CONCURRENCY unary calls in flight at all times for SECONDS, each a
// BYTES-byte echo (default 16). Prints the "done" line of lib/node-client.mjs.
import { latencySummary } from '../lib/node-client.mjs';
import { callOnce, echoClient } from '../lib/grpc-echo.mjs';

const [port, seconds, concArg, bytesArg] = process.argv.slice(2);
const concurrency = Number(concArg);
const msg = Buffer.alloc(Number(bytesArg ?? 16), 'x');
const client = echoClient(Number(port));
const errors = { status: 0, connect: 0, read: 0, write: 0, timeout: 0 };
let firstError = '';
/** @type {number[]} */
const latencies = [];

// Connect first, so the channel's setup is not in the measured time.
await new Promise((resolve, reject) => client.waitForReady(Date.now() + 5000, (err) => (err ? reject(err) : resolve(undefined))));
const t0 = performance.now();
const deadline = t0 + Number(seconds) * 1000;
await Promise.all(
  Array.from({ length: concurrency }, async () => {
    while (performance.now() < deadline) {
      const start = performance.now();
      try {
        await callOnce(client, msg, 10_000);
        latencies.push(performance.now() - start);
      } catch (err) {
        errors.status++;
        firstError ||= /** @type {Error} */ (err).message;
      }
    }
  }),
);
const durationS = (performance.now() - t0) / 1000;
client.close();
process.stdout.write(`${JSON.stringify({ event: 'done', requests: latencies.length, durationS, ...latencySummary(latencies), errors, firstError })}\n`);
process.exit(0);
