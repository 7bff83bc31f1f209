import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { connect, createServer as createNetServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { Agent, request } from 'undici';
import { Backend, Ketama } from '@pingora-ts/load-balancing';

/** nginx from PATH or /usr/sbin (.ci/run installs nginx-light), or null. */
function findNginx(): string | null {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/usr/local/sbin'];
  for (const d of dirs) if (d && existsSync(join(d, 'nginx'))) return join(d, 'nginx');
  return null;
}

const NGINX = findNginx();
if (NGINX === null) console.warn('ketama-nginx.test.ts: skipped, nginx is not installed (apt-get install nginx-light)');
const maybe = NGINX === null ? describe.skip : describe;

/** A port free right now (nginx needs a number in its config). */
async function freePort(): Promise<number> {
  const s = createNetServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const port = (s.address() as AddressInfo).port;
  await new Promise((resolve) => s.close(resolve));
  return port;
}

async function waitForPort(port: number, child: ChildProcess, log: () => string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (child.exitCode !== null) throw new Error(`nginx exited ${child.exitCode}: ${log()}`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect(port, '127.0.0.1');
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`nginx did not listen on ${port}: ${log()}`);
}

maybe('Ketama agrees with nginx `hash $request_uri consistent`', () => {
  const servers: Server[] = [];
  let nginx: ChildProcess | null = null;
  let dir = '';
  const agent = new Agent({ connections: 8 });

  afterAll(async () => {
    await agent.close();
    if (nginx !== null && nginx.exitCode === null) {
      const exited = new Promise((resolve) => nginx!.once('exit', resolve));
      nginx.kill('SIGTERM');
      const timer = setTimeout(() => nginx!.kill('SIGKILL'), 3000);
      await exited;
      clearTimeout(timer);
    }
    for (const s of servers) s.closeAllConnections();
    await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('sends each of 1,000 URIs to the backend Ketama picks, over 5 backends of weights 1, 2, 3, 1, 5', async () => {
    const weights = [1, 2, 3, 1, 5];
    const backends: Backend[] = [];
    for (let i = 0; i < weights.length; i++) {
      const server = createServer((req, res) => {
        req.resume();
        res.end(`${(server.address() as AddressInfo).port}`);
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      servers.push(server);
      backends.push(new Backend(`127.0.0.1:${(server.address() as AddressInfo).port}`, weights[i]));
    }

    dir = mkdtempSync(join(tmpdir(), 'pts-ketama-nginx-'));
    mkdirSync(join(dir, 'logs'));
    const port = await freePort();
    const conf = join(dir, 'nginx.conf');
    writeFileSync(
      conf,
      [
        'daemon off;',
        'master_process off;',
        'worker_processes 1;',
        `pid ${dir}/nginx.pid;`,
        `error_log ${dir}/logs/error.log warn;`,
        'events { worker_connections 1024; }',
        'http {',
        '  access_log off;',
        `  client_body_temp_path ${dir}/body;`,
        `  proxy_temp_path ${dir}/proxy;`,
        `  fastcgi_temp_path ${dir}/fcgi;`,
        `  uwsgi_temp_path ${dir}/uwsgi;`,
        `  scgi_temp_path ${dir}/scgi;`,
        '  upstream up {',
        '    hash $request_uri consistent;',
        ...backends.map((b) => `    server ${b.addr} weight=${b.weight};`),
        '    keepalive 16;',
        '  }',
        '  server {',
        `    listen 127.0.0.1:${port};`,
        '    location / {',
        '      proxy_pass http://up;',
        '      proxy_http_version 1.1;',
        '      proxy_set_header Connection "";',
        '    }',
        '  }',
        '}',
        '',
      ].join('\n'),
    );
    let log = '';
    nginx = spawn(NGINX!, ['-p', dir, '-c', conf], { stdio: ['ignore', 'pipe', 'pipe'] });
    nginx.stderr?.on('data', (d: Buffer) => (log += d.toString()));
    await waitForPort(port, nginx, () => log);

    const selector = new Ketama().build(backends);
    const uris = Array.from({ length: 1000 }, (_, i) => `/objects/${i}/${(i * 2654435761) % 100000}?v=${i % 17}&q=a%20b`);
    const disagreements: string[] = [];
    const counts = new Map<string, number>();
    for (let start = 0; start < uris.length; start += 8) {
      await Promise.all(
        uris.slice(start, start + 8).map(async (uri) => {
          const res = await request(`http://127.0.0.1:${port}${uri}`, { dispatcher: agent });
          const got = `127.0.0.1:${await res.body.text()}`;
          const want = selector.iter(uri).next()!.addr;
          counts.set(got, (counts.get(got) ?? 0) + 1);
          if (got !== want) disagreements.push(`${uri}: nginx ${got}, Ketama ${want}`);
        }),
      );
    }
    expect(disagreements).toEqual([]);
    // Every backend got keys: the test did exercise the whole ring.
    expect(counts.size).toBe(backends.length);
  });
});
