// Waits until 127.0.0.1:port answers GET / with 200, or the process dies, or time runs out.
import { get } from 'node:https';
import { request } from 'undici';

/**
 * @param {number} port
 * @param {{ proc?: import('./process-group.mjs').Started, timeoutMs?: number }} [o]
 */
export async function waitForHttp(port, o = {}) {
  await poll(port, 'not ready', o, async () => {
    const res = await request(`http://127.0.0.1:${port}/`, { headersTimeout: 2000, bodyTimeout: 2000, reset: true });
    await res.body.dump();
    if (res.statusCode !== 200) throw new Error(`GET / answered ${res.statusCode}`);
  });
}

/**
 * The same over TLS (the certificate is not checked), and what was negotiated, such as
 * "TLSv1.3 TLS_AES_256_GCM_SHA384 X25519". node:tls offers the same TLS 1.3 suites in the same
 * order as wrk's OpenSSL, so wrk gets the same answer.
 * @param {number} port
 * @param {{ proc?: import('./process-group.mjs').Started, timeoutMs?: number }} [o]
 * @returns {Promise<string>}
 */
export function waitForHttps(port, o = {}) {
  return poll(port, 'no HTTPS', o, () => httpsGet(port));
}

/**
 * Tries `attempt` every 100 ms until it resolves, the process dies, or time runs out.
 * @template T
 * @param {number} port
 * @param {string} failure  how the timeout error starts, e.g. "not ready"
 * @param {{ proc?: import('./process-group.mjs').Started, timeoutMs?: number }} o
 * @param {() => Promise<T>} attempt
 * @returns {Promise<T>}
 */
async function poll(port, failure, { proc, timeoutMs = 15000 }, attempt) {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    if (proc && !proc.alive()) {
      throw new Error(`exited with ${proc.child.exitCode ?? proc.child.signalCode}: ${tail(proc.output())}`);
    }
    try {
      return await attempt();
    } catch (err) {
      last = /** @type {Error} */ (err).message;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${failure} on 127.0.0.1:${port} after ${timeoutMs} ms (${last})${proc ? `: ${tail(proc.output())}` : ''}`);
}

/** One GET / over a new TLS connection; resolves with what was negotiated when it answers 200. */
function httpsGet(/** @type {number} */ port) {
  return new Promise((resolve, reject) => {
    const req = get({ host: '127.0.0.1', port, path: '/', servername: 'localhost', rejectUnauthorized: false, agent: false, timeout: 2000 }, (res) => {
      const socket = /** @type {import('node:tls').TLSSocket} */ (res.socket);
      const key = socket.getEphemeralKeyInfo();
      const negotiated = [socket.getProtocol(), socket.getCipher()?.standardName, key && 'name' in key ? key.name : ''].filter(Boolean).join(' ');
      res.resume();
      res.on('end', () => (res.statusCode === 200 ? resolve(negotiated) : reject(new Error(`GET / answered ${res.statusCode}`))));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
  });
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
