import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Starts nginx with `conf` (an http {} body) in `dir`; resolves to a stop function. */
export function startNginx(dir, name, httpBody, cpu) {
  const root = join(dir, name);
  mkdirSync(join(root, 'logs'), { recursive: true });
  const conf = join(root, 'nginx.conf');
  writeFileSync(
    conf,
    `daemon off;\nmaster_process off;\nworker_processes 1;\npid ${root}/nginx.pid;\nerror_log ${root}/logs/error.log warn;\n` +
      `events { worker_connections 20000; }\nhttp {\n  access_log off;\n  client_body_temp_path ${root}/body;\n  proxy_temp_path ${root}/proxy;\n` +
      `  fastcgi_temp_path ${root}/fcgi;\n  uwsgi_temp_path ${root}/uwsgi;\n  scgi_temp_path ${root}/scgi;\n${httpBody}\n}\n`,
  );
  return pinned(cpu, '/usr/sbin/nginx', ['-p', root, '-c', conf]);
}

/** Spawns `cmd` on CPU `cpu` (taskset) when given. */
export function pinned(cpu, cmd, args, opts = {}) {
  const child =
    cpu === undefined
      ? spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'], ...opts })
      : spawn('taskset', ['-c', String(cpu), cmd, ...args], { stdio: ['ignore', 'ignore', 'pipe'], ...opts });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  return { child, stderr: () => stderr, stop: () => stop(child) };
}

function stop(child) {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}
