// Starts one HAProxy (foreground, one thread) from frontend bind lines and a backend server
// line, with the same global settings and timeouts as peers/haproxy.mjs.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The config text. `binds` are whole `bind …` lines; `server` is the `server …` line.
 * @param {{ binds: string[], server: string, extra?: string[], sections?: string[], frontend?: string[], backend?: string[] }} o
 *   extra: more `defaults` lines; sections: whole top-level sections (a `cache` section), unindented;
 *   frontend, backend: more lines in those sections
 */
export function haproxyConfig({ binds, server, extra = [], sections = [], frontend = [], backend = [] }) {
  return [
    'global',
    '  nbthread 1',
    '  maxconn 20000',
    '  no strict-limits',
    'defaults',
    '  mode http',
    '  option http-keep-alive',
    '  timeout connect 5s',
    '  timeout client 75s',
    '  timeout server 60s',
    '  timeout http-keep-alive 75s',
    '  http-reuse always',
    ...extra.map((l) => `  ${l}`),
    ...sections,
    'frontend fe',
    ...binds.map((l) => `  ${l}`),
    '  maxconn 20000',
    '  default_backend be',
    ...frontend.map((l) => `  ${l}`),
    'backend be',
    ...backend.map((l) => `  ${l}`),
    `  ${server}`,
    '',
  ].join('\n');
}

/**
 * @param {import('./process-group.mjs').ProcessGroup} group
 * @param {{ dir: string, name: string, config: string, cpus: string }} o
 * @returns {import('./process-group.mjs').Started}
 */
export function startHaproxy(group, { dir, name, config, cpus }) {
  const root = join(dir, name);
  mkdirSync(root, { recursive: true });
  const file = join(root, 'haproxy.cfg');
  writeFileSync(file, config);
  return group.start({ name, cmd: 'haproxy', args: ['-db', '-f', file], cpus });
}
