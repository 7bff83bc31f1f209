// `node h2-stream-client.mjs PORT up|down BYTES [TIMEOUT_S]`: one HTTP/2 stream over h2c to
// 127.0.0.1:PORT carrying BYTES: `up` POSTs them to /sink (written with backpressure from one
// reused 64 KiB buffer), `down` reads them from /gen?bytes=BYTES. Prints
// {"event":"done","direction":…,"bytes":N,"seconds":S,"mibPerS":…} or {"event":"error",…}.
import http2 from 'node:http2';

const [port, direction, bytesArg, timeoutArg] = process.argv.slice(2);
const total = Number(bytesArg);
const CHUNK = Buffer.alloc(64 * 1024, 'y');
// A large window, as h2load and browsers use: the proxy's flow control is what is measured.
const WINDOW = 16 * 1024 * 1024;

const session = http2.connect(`http://127.0.0.1:${port}`, { settings: { initialWindowSize: WINDOW } });
session.on('connect', () => session.setLocalWindowSize(WINDOW));
const t0 = performance.now();
const finish = (/** @type {Record<string, unknown>} */ o) => {
  process.stdout.write(`${JSON.stringify(o)}\n`);
  session.destroy();
  process.exit(0);
};
const fail = (/** @type {string} */ why) => finish({ event: 'error', direction, error: why });
setTimeout(() => fail(`not done after ${timeoutArg ?? 300} s`), Number(timeoutArg ?? 300) * 1000).unref();
session.on('error', (err) => fail(err.message));

let moved = 0;
const done = () => {
  const seconds = (performance.now() - t0) / 1000;
  finish({ event: 'done', direction, bytes: moved, seconds, mibPerS: moved / 1048576 / seconds });
};

if (direction === 'up') {
  const req = session.request({ ':method': 'POST', ':path': '/sink', 'content-type': 'application/octet-stream', 'content-length': String(total) });
  req.on('error', (err) => fail(err.message));
  let left = total;
  const pump = () => {
    while (left > 0) {
      const chunk = left >= CHUNK.length ? CHUNK : CHUNK.subarray(0, left);
      left -= chunk.length;
      if (!req.write(chunk)) return void req.once('drain', pump);
    }
    req.end();
  };
  pump();
  let answer = '';
  req.on('response', (h) => {
    if (h[':status'] !== 200) fail(`POST /sink answered ${h[':status']}`);
  });
  req.setEncoding('utf8');
  req.on('data', (d) => (answer += d));
  req.on('end', () => {
    moved = Number(answer.trim());
    if (moved !== total) fail(`the sink counted ${answer.trim() || 'nothing'} of ${total} bytes`);
    else done();
  });
} else {
  const req = session.request({ ':path': `/gen?bytes=${total}` });
  req.on('error', (err) => fail(err.message));
  req.on('response', (h) => {
    if (h[':status'] !== 200) fail(`GET /gen answered ${h[':status']}`);
  });
  req.on('data', (/** @type {Buffer} */ d) => (moved += d.length));
  req.on('end', () => (moved === total ? done() : fail(`got ${moved} of ${total} bytes`)));
  req.end();
}
