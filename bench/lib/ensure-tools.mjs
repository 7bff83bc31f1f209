// The Debian tools the harness drives. Missing ones are installed with apt when allowed;
// whatever is still missing afterwards only skips the peers (or scenarios) that need it.
import { spawnSync } from 'node:child_process';
import { hasCommand } from './start-peer.mjs';

/** command -> Debian package */
export const TOOLS = { nginx: 'nginx-light', haproxy: 'haproxy', wrk: 'wrk', h2load: 'nghttp2-client', taskset: 'util-linux' };

/**
 * @param {{ install: boolean, log: (msg: string) => void }} o
 * @returns {string[]} commands still missing
 */
export function ensureTools({ install, log }) {
  const missing = () => Object.keys(TOOLS).filter((c) => !hasCommand(c));
  const before = missing();
  if (before.length === 0) return [];
  const pkgs = [...new Set(before.map((c) => TOOLS[/** @type {keyof typeof TOOLS} */ (c)]))];
  if (!install) {
    log(`missing ${before.join(', ')} (--no-install: not installing ${pkgs.join(' ')})`);
    return before;
  }
  if (process.getuid?.() !== 0) {
    log(`missing ${before.join(', ')}; not root, so not running apt-get install ${pkgs.join(' ')}`);
    return before;
  }
  log(`installing ${pkgs.join(' ')} with apt (missing: ${before.join(', ')})`);
  const apt = (/** @type {string[]} */ args) =>
    spawnSync('apt-get', ['-o', 'DPkg::Lock::Timeout=120', ...args], {
      stdio: ['ignore', 'ignore', 'pipe'],
      encoding: 'utf8',
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    });
  let r = apt(['install', '-y', '-qq', ...pkgs]);
  if (r.status !== 0) {
    apt(['update', '-qq']);
    r = apt(['install', '-y', '-qq', ...pkgs]);
  }
  const after = missing();
  if (after.length > 0) log(`still missing ${after.join(', ')}: ${(r.stderr || r.error?.message || '').trim().split('\n').pop()}`);
  return after;
}
