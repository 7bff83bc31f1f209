// `node ws-echo-client.mjs PORT SECONDS CONNECTIONS [BYTES]`: opens CONNECTIONS WebSockets to
// ws://127.0.0.1:PORT/ (all open before the clock starts), then on each one sends a BYTES-byte
// binary message (default 64) and the next as soon as its echo is back, for SECONDS. Prints
// the "done" line of lib/node-client.mjs, one request = one echoed message.
import WebSocket from 'ws';
import { latencySummary } from '../lib/node-client.mjs';

const [port, seconds, connArg, bytesArg] = process.argv.slice(2);
const msg = Buffer.alloc(Number(bytesArg ?? 64), 'x');
const errors = { status: 0, connect: 0, read: 0, write: 0, timeout: 0 };
let firstError = '';
/** @type {number[]} */
const latencies = [];
const fail = (/** @type {keyof typeof errors} */ kind, /** @type {string} */ why) => {
  errors[kind]++;
  firstError ||= why;
};

/** @returns {Promise<WebSocket | null>} */
function open() {
  return new Promise((resolve) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/`, { perMessageDeflate: false });
    const timer = setTimeout(() => {
      fail('timeout', 'no open within 5 s');
      ws.terminate();
      resolve(null);
    }, 5000);
    ws.once('open', () => {
      clearTimeout(timer);
      resolve(ws);
    });
    ws.once('error', (err) => {
      clearTimeout(timer);
      fail('connect', err.message);
      resolve(null);
    });
  });
}

const sockets = (await Promise.all(Array.from({ length: Number(connArg) }, open))).filter((ws) => ws !== null);
const t0 = performance.now();
const deadline = t0 + Number(seconds) * 1000;
await Promise.all(
  sockets.map(
    (ws) =>
      new Promise((resolve) => {
        let sent = 0;
        const send = () => {
          sent = performance.now();
          ws.send(msg);
        };
        ws.on('message', (data) => {
          const now = performance.now();
          if (/** @type {Buffer} */ (data).length !== msg.length) fail('read', `echo of ${/** @type {Buffer} */ (data).length} bytes`);
          else latencies.push(now - sent);
          if (now < deadline) send();
          else resolve(undefined);
        });
        ws.on('error', (err) => fail('read', err.message));
        ws.on('close', () => resolve(undefined));
        send();
      }),
  ),
);
const durationS = (performance.now() - t0) / 1000;
for (const ws of sockets) ws.terminate();
if (sockets.length === 0) fail('connect', firstError || 'no connection opened');
process.stdout.write(`${JSON.stringify({ event: 'done', requests: latencies.length, durationS, connections: sockets.length, ...latencySummary(latencies), errors, firstError })}\n`);
process.exit(0);
