// Every child the harness starts goes through one ProcessGroup, so a finally block, an error
// or Ctrl-C can stop exactly those processes, by pid, and nothing else.
import { spawn, spawnSync } from 'node:child_process';

/** @typedef {import('node:child_process').ChildProcess} ChildProcess */

/**
 * @typedef {object} Started
 * @property {ChildProcess} child
 * @property {number} pid            pid of the program itself (`sh` and `taskset` exec into it)
 * @property {string} name
 * @property {() => string} output   stdout + stderr collected so far (last 64 KiB)
 * @property {() => boolean} alive
 * @property {Promise<number | null>} exited  resolves with the exit code (null when killed by a signal)
 */

/** Open-file limit asked for every child (the shell falls back to the hard limit when lower). */
export const NOFILE = 65536;

const hasTaskset = spawnSync('sh', ['-c', 'command -v taskset'], { stdio: 'ignore' }).status === 0;

/** Owns the harness's children: starts them pinned, stops them by pid, never anything else. */
export class ProcessGroup {
  /** @type {Set<Started>} */
  #live = new Set();

  /** Whether `taskset` exists; without it children run unpinned (the report says so). */
  static get pinning() {
    return hasTaskset;
  }

  /**
   * Starts `cmd args` through `sh -c 'ulimit -n …; exec taskset -c CPUS cmd args'`, so the
   * pid is the program's own and its open-file limit is raised.
   * @param {{ name: string, cmd: string, args?: string[], cpus?: string, env?: NodeJS.ProcessEnv, cwd?: string, stdin?: boolean }} o
   * @returns {Started}
   */
  start({ name, cmd, args = [], cpus, env, cwd, stdin = false }) {
    const pin = cpus !== undefined && hasTaskset ? `exec taskset -c ${cpus} "$@"` : 'exec "$@"';
    const script = `ulimit -n ${NOFILE} 2>/dev/null || ulimit -n "$(ulimit -Hn)"; ${pin}`;
    const child = spawn('sh', ['-c', script, 'sh', cmd, ...args], {
      stdio: [stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'],
      env: env ?? process.env,
      cwd,
    });
    let out = '';
    const keep = (/** @type {Buffer} */ d) => {
      out += d.toString();
      if (out.length > 65536) out = out.slice(-65536);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    const exited = new Promise((resolve) => {
      child.once('exit', (code) => resolve(code));
      child.once('error', (err) => {
        keep(Buffer.from(`\n${err.message}\n`));
        resolve(-1);
      });
    });
    /** @type {Started} */
    const started = {
      child,
      pid: child.pid ?? -1,
      name,
      output: () => out,
      alive: () => child.exitCode === null && child.signalCode === null && child.pid !== undefined,
      exited,
    };
    this.#live.add(started);
    exited.then(() => this.#live.delete(started));
    return started;
  }

  /**
   * SIGTERM, then SIGKILL after `graceMs`; resolves once the process has exited.
   * @param {Started} p
   * @param {number} [graceMs]
   */
  async stop(p, graceMs = 5000) {
    if (!p.alive()) return;
    const timer = setTimeout(() => p.alive() && p.child.kill('SIGKILL'), graceMs);
    p.child.kill('SIGTERM');
    await p.exited;
    clearTimeout(timer);
  }

  /** Stops every live child (in parallel). */
  async stopAll(graceMs = 3000) {
    await Promise.all([...this.#live].map((p) => this.stop(p, graceMs)));
  }

  /** For `process.on('exit')`: SIGKILL whatever is still alive, synchronously. */
  killAllNow() {
    for (const p of this.#live) {
      if (p.alive()) {
        try {
          process.kill(p.pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
    }
  }
}
