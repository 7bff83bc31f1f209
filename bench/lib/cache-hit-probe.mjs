// The cache-hit scenario's readiness probe: a proxy is ready once a GET of each cacheable path
// comes back from its cache (`X-Cache-Status: HIT`), so the scenario never measures misses.
import { request } from 'node:http';

/** Requests per path before giving up: the first fills the cache; a store may land a moment after. */
const TRIES = 10;
const TIMEOUT_MS = 3000;

/** The header every cache peer sets: nginx `$upstream_cache_status`, HAProxy `res.cache_hit`, pingora-ts `status_header`. */
export const CACHE_STATUS_HEADER = 'x-cache-status';

/**
 * GETs `path` until a response says HIT; rejects when it never does, or on a wrong status or size.
 * @param {number} port
 * @param {{ path: string, bytes: number }} object  the path and its body's size
 */
export async function cacheHit(port, { path, bytes }) {
  /** @type {string} */
  let last = 'absent';
  for (let i = 0; i < TRIES; i++) {
    const res = await get(port, path);
    if (res.status !== 200) throw new Error(`GET ${path} answered ${res.status}`);
    if (res.bytes !== bytes) throw new Error(`GET ${path} sent ${res.bytes} bytes, not ${bytes}`);
    last = res.cacheStatus ?? 'absent';
    if (last.toUpperCase() === 'HIT') return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`GET ${path} is not served from the cache: X-Cache-Status ${last} after ${TRIES} requests`);
}

/**
 * One GET on a new connection: status, body size and the cache status header.
 * @param {number} port
 * @param {string} path
 * @returns {Promise<{ status: number, bytes: number, cacheStatus: string | undefined }>}
 */
function get(port, path) {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, agent: false, timeout: TIMEOUT_MS }, (res) => {
      let bytes = 0;
      res.on('data', (chunk) => (bytes += chunk.length));
      res.on('end', () => {
        const h = res.headers[CACHE_STATUS_HEADER];
        resolve({ status: res.statusCode ?? 0, bytes, cacheStatus: Array.isArray(h) ? h.join(', ') : h });
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer to GET ${path} within ${TIMEOUT_MS} ms`)));
    req.on('error', reject);
    req.end();
  });
}
