// Waits until 127.0.0.1:port answers GET / with 200, or the process dies, or time runs out.
import { request } from 'undici';

/**
 * @param {number} port
 * @param {{ proc?: import('./process-group.mjs').Started, timeoutMs?: number }} [o]
 */
export async function waitForHttp(port, { proc, timeoutMs = 15000 } = {}) {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    if (proc && !proc.alive()) {
      throw new Error(`exited with ${proc.child.exitCode ?? proc.child.signalCode}: ${tail(proc.output())}`);
    }
    try {
      const res = await request(`http://127.0.0.1:${port}/`, { headersTimeout: 2000, bodyTimeout: 2000, reset: true });
      await res.body.dump();
      if (res.statusCode === 200) return;
      last = `GET / answered ${res.statusCode}`;
    } catch (err) {
      last = /** @type {Error} */ (err).message;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`not ready on 127.0.0.1:${port} after ${timeoutMs} ms (${last})${proc ? `: ${tail(proc.output())}` : ''}`);
}

/** The last lines of a child's output, on one line. */
export function tail(/** @type {string} */ s, lines = 3) {
  return (
    s
      .trim()
      .split('\n')
      .slice(-lines)
      .map((l) => l.trim())
      .join(' | ') || '(no output)'
  );
}
