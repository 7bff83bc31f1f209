// What the results were measured on: versions, CPU, commit (read from .git files; no git call).
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { cpus, release } from 'node:os';
import { join } from 'node:path';

/**
 * @param {string} repoRoot
 */
export function machineInfo(repoRoot) {
  const first = (/** @type {string} */ cmd, /** @type {string[]} */ args, /** @type {RegExp} */ re) => {
    const r = spawnSync(cmd, args, { encoding: 'utf8' });
    const text = `${r.stdout ?? ''}${r.stderr ?? ''}`;
    return re.exec(text)?.[1] ?? null;
  };
  const model = /^model name\s*:\s*(.+)$/m.exec(safeRead('/proc/cpuinfo'))?.[1] ?? cpus()[0]?.model ?? 'unknown';
  return {
    node: process.version,
    cpu: model.trim(),
    cores: cpus().length,
    kernel: release(),
    nginx: first('nginx', ['-v'], /nginx version: nginx\/(\S+)/),
    haproxy: first('haproxy', ['-v'], /HAProxy version (\S+)/),
    wrk: first('wrk', ['--version'], /^wrk (\S+)/m),
    commit: gitCommit(repoRoot),
  };
}

function safeRead(/** @type {string} */ f) {
  try {
    return readFileSync(f, 'utf8');
  } catch {
    return '';
  }
}

/**
 * The checked-out commit, from .git/HEAD and the refs it points to, or null.
 * @param {string} repoRoot
 */
export function gitCommit(repoRoot) {
  let gitDir = join(repoRoot, '.git');
  const asFile = safeRead(gitDir);
  if (asFile.startsWith('gitdir:')) gitDir = join(repoRoot, asFile.slice(7).trim());
  if (!existsSync(join(gitDir, 'HEAD'))) return null;
  const head = safeRead(join(gitDir, 'HEAD')).trim();
  if (/^[0-9a-f]{40}$/.test(head)) return head;
  const ref = /^ref: (.+)$/.exec(head)?.[1];
  if (!ref) return null;
  const common = safeRead(join(gitDir, 'commondir')).trim();
  for (const dir of common ? [gitDir, join(gitDir, common)] : [gitDir]) {
    const loose = safeRead(join(dir, ref)).trim();
    if (/^[0-9a-f]{40}$/.test(loose)) return loose;
    const packed = new RegExp(`^([0-9a-f]{40}) ${ref.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`, 'm').exec(safeRead(join(dir, 'packed-refs')));
    if (packed) return packed[1];
  }
  return null;
}
