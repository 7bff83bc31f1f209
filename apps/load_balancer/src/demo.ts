import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * `pnpm start`: the quick start in one process tree. Starts the two demo upstreams the
 * example config points at (127.0.0.1:8001 and :8002), then the real load balancer binary
 * with `conf/example.yaml`, and stops both on Ctrl-C.
 */
const here = dirname(fileURLToPath(import.meta.url));
const conf = join(here, '..', 'conf', 'example.yaml');

function demoUpstream(port: number): Promise<Server> {
  const server = createServer((req, res) => {
    // Drain any request body, then say who answered.
    req.resume();
    req.on('end', () => {
      res.setHeader('content-type', 'text/plain');
      res.end(`hello from upstream 127.0.0.1:${port} (${req.method} ${req.url})\n`);
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve(server));
  });
}

async function demo(): Promise<void> {
  const upstreams = await Promise.all([demoUpstream(8001), demoUpstream(8002)]);
  process.stdout.write('demo upstreams listening on 127.0.0.1:8001 and 127.0.0.1:8002 (weight 1 and 2)\n');
  const lb = spawn(process.execPath, [join(here, 'main.js'), '-c', conf], { stdio: 'inherit' });
  process.stdout.write(
    `load balancer (pid ${lb.pid}) starting with ${conf}\n` +
      'try:  curl -i http://127.0.0.1:6188/   (run it a few times: round robin, 1:2)\n' +
      'stop: Ctrl-C\n',
  );
  const stop = (signal: NodeJS.Signals): void => {
    lb.kill(signal);
  };
  process.on('SIGINT', () => stop('SIGTERM'));
  process.on('SIGTERM', () => stop('SIGTERM'));
  lb.on('exit', (code) => {
    for (const u of upstreams) u.close();
    process.exitCode = code ?? 0;
  });
}

demo().catch((err: unknown) => {
  process.stderr.write(`demo: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
