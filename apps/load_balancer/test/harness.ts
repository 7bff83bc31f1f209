import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** The built binary under test: CI builds before jest, so tests run what users run. */
export const MAIN = join(__dirname, '..', 'dist', 'main.js');

/** Tracks everything a test starts, so `cleanup()` leaves nothing behind. */
export class Harness {
  readonly dir = mkdtempSync(join(tmpdir(), 'pts-lb-'));
  readonly #children: ChildProcess[] = [];
  readonly #servers: Server[] = [];
  readonly #sockets = new Set<Socket>();

  /** A node:http upstream on 127.0.0.1:`port` (0: any) answering with its own address. */
  async upstream(port = 0, handler?: (req: IncomingMessage, res: ServerResponse) => void): Promise<Upstream> {
    const server = createServer(
      handler ??
        ((req, res) => {
          req.resume();
          req.on('end', () => res.end(`upstream ${(server.address() as AddressInfo).port}`));
        }),
    );
    server.on('connection', (s) => {
      this.#sockets.add(s);
      s.on('close', () => this.#sockets.delete(s));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', resolve);
    });
    this.#servers.push(server);
    const addr = server.address() as AddressInfo;
    return { server, port: addr.port, addr: `127.0.0.1:${addr.port}` };
  }

  /** Closes an upstream now, connections included (a "killed" backend). */
  async kill(u: Upstream): Promise<void> {
    u.server.closeAllConnections();
    await new Promise<void>((resolve) => u.server.close(() => resolve()));
  }

  file(name: string, text: string): string {
    const path = join(this.dir, name);
    writeFileSync(path, text);
    return path;
  }

  /** Runs `load_balancer args…` to completion. */
  run(args: string[], timeoutMs = 15000): Promise<{ code: number | null; stdout: string; stderr: string }> {
    const child = this.spawn(args);
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`load_balancer ${args.join(' ')} did not exit`)), timeoutMs);
      child.on('close', (code) => {
        clearTimeout(timer);
        resolve({ code, stdout, stderr });
      });
    });
  }

  spawn(args: string[]): ChildProcess {
    const child = spawn(process.execPath, [MAIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.#children.push(child);
    return child;
  }

  /**
   * Starts the load balancer on a config (listener on 127.0.0.1:0) and resolves once it logs
   * where it listens. Its error log goes to `error.log` in the test's folder unless set.
   */
  async start(confYaml: string): Promise<RunningLb> {
    const conf = this.file('conf.yaml', confYaml);
    const child = this.spawn(['-c', conf]);
    let stderr = '';
    let stdout = '';
    child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
    const port = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`load balancer did not start: ${stderr}`)), 20_000); // a bound for a loaded CI machine, not a speed test
      child.stderr?.on('data', (d: Buffer) => {
        stderr += d.toString();
        const line = stderr.split('\n').find((l) => l.includes('"msg":"listening"'));
        if (line) {
          clearTimeout(timer);
          resolve((JSON.parse(line) as { addresses: { port: number }[] }).addresses[0]!.port);
        }
      });
      child.once('exit', (code) => reject(new Error(`load balancer exited ${code}: ${stderr}`)));
    });
    // The pid file is written right after every listener is up: wait for it, so "started" means running.
    for (let i = 0; i < 100 && !existsSync(join(this.dir, 'lb.pid')); i++) await sleep(20);
    return {
      child,
      port,
      url: `http://127.0.0.1:${port}`,
      stderr: () => stderr,
      stdout: () => stdout,
      exited: new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal }))),
    };
  }

  async cleanup(): Promise<void> {
    for (const c of this.#children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    for (const s of this.#sockets) s.destroy();
    await Promise.all(this.#servers.map((s) => new Promise((resolve) => s.close(resolve))));
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export interface Upstream {
  server: Server;
  port: number;
  addr: string;
}

export interface RunningLb {
  child: ChildProcess;
  port: number;
  url: string;
  stderr(): string;
  stdout(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** A config for one service on 127.0.0.1:0 in front of `backends`, its logs in `dir`. */
export function lbConf(dir: string, backends: string[], extra = ''): string {
  return [
    `pid_file: ${join(dir, 'lb.pid')}`,
    `access_log: ${join(dir, 'access.log')}`,
    'graceful_shutdown_timeout_seconds: 5',
    extra,
    'services:',
    '  - name: web',
    '    listeners:',
    '      - addr: 127.0.0.1:0',
    '    upstreams:',
    '      backends:',
    ...backends.map((b) => `        - ${b}`),
  ].join('\n');
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Whether a process (started by a test, e.g. a daemon) is still running. */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
