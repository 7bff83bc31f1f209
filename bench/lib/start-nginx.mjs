// Starts one nginx (single process, foreground) with an http {} body, pinned to `cpus`.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * @param {import('./process-group.mjs').ProcessGroup} group
 * @param {{ dir: string, name: string, httpBody: string, cpus: string }} o
 * @returns {import('./process-group.mjs').Started}
 */
export function startNginx(group, { dir, name, httpBody, cpus }) {
  const root = join(dir, name);
  mkdirSync(join(root, 'logs'), { recursive: true });
  const conf = join(root, 'nginx.conf');
  writeFileSync(
    conf,
    [
      'daemon off;',
      // One process doing the work: what a worker does, without the master (no user switch).
      'master_process off;',
      'worker_processes 1;',
      'worker_rlimit_nofile 65536;',
      `pid ${root}/nginx.pid;`,
      `error_log ${root}/logs/error.log warn;`,
      'events { worker_connections 30000; }',
      'http {',
      '  access_log off;',
      '  keepalive_timeout 75s;',
      '  keepalive_requests 1000000;',
      `  client_body_temp_path ${root}/body;`,
      `  proxy_temp_path ${root}/proxy;`,
      `  fastcgi_temp_path ${root}/fcgi;`,
      `  uwsgi_temp_path ${root}/uwsgi;`,
      `  scgi_temp_path ${root}/scgi;`,
      httpBody,
      '}',
      '',
    ].join('\n'),
  );
  return group.start({ name, cmd: 'nginx', args: ['-p', root, '-c', conf], cpus });
}
