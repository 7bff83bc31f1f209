/**
 * Daemon mode (`-d` or `daemon: true`), after Pingora's daemonize step, done the Node way:
 * Node cannot fork, so the parent re-runs the same command as a detached child (its own
 * session, no terminal) and waits until the child says it listens. The command thus
 * returns 0 only once the server is really serving, and 1 with the child's error otherwise,
 * which is what a service manager or a deploy script needs.
 *
 * ```
 * parent                               child (PINGORA_TS_DAEMON_CHILD=1)
 *   spawn detached, stderr piped  --->   bootstrap (no re-daemonize), run(): listen all
 *   relay child's stderr                 write pid file
 *   <--- { type: 'ready' } (IPC) ---     disconnect IPC, stderr -> error_log (or nowhere)
 *   exit 0
 *   (or child exits / { type: 'error' } first -> print it, exit 1)
 * ```
 */
import { spawn } from 'node:child_process';
import { closeSync, openSync, writeSync } from 'node:fs';

/** The environment marker that tells a process it is the daemon child. */
export const DAEMON_CHILD_ENV = 'PINGORA_TS_DAEMON_CHILD';

/** What the daemon child tells its parent over IPC. */
export type DaemonMessage = { type: 'ready'; pid: number } | { type: 'error'; message: string };

/** How long the parent waits for the child to exit after it reported an error. */
const EXIT_AFTER_ERROR_MS = 5000;

let daemonChild: boolean | undefined;

/**
 * True in the process `daemonize()` started. The marker is read once and removed from the
 * environment, so programs the daemon starts do not believe they are daemon children too.
 */
export function isDaemonChild(): boolean {
  if (daemonChild === undefined) {
    daemonChild = process.env[DAEMON_CHILD_ENV] === '1';
    delete process.env[DAEMON_CHILD_ENV];
  }
  return daemonChild;
}

function isDaemonMessage(value: unknown): value is DaemonMessage {
  return typeof value === 'object' && value !== null && ((value as { type?: unknown }).type === 'ready' || (value as { type?: unknown }).type === 'error');
}

/**
 * Parent side: starts this same command as a detached daemon child and resolves the exit
 * code for the parent once the child is ready (0) or has failed (1). Prints the child's pid
 * on stdout when ready; relays the child's stderr until then.
 */
export function daemonize(): Promise<number> {
  const child = spawn(process.execPath, [...process.execArgv, ...process.argv.slice(1)], {
    detached: true,
    stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    env: { ...process.env, [DAEMON_CHILD_ENV]: '1' },
  });
  return new Promise<number>((resolve) => {
    let settled = false;
    let failed = false;
    const finish = (code: number): void => {
      if (settled) return;
      settled = true;
      resolve(code);
    };
    child.stderr?.on('data', (chunk: Buffer) => process.stderr.write(chunk));
    child.on('error', (err) => {
      process.stderr.write(`daemon: cannot start: ${err.message}\n`);
      finish(1);
    });
    child.on('message', (message: unknown) => {
      if (!isDaemonMessage(message) || settled) return;
      if (message.type === 'ready') {
        process.stdout.write(`daemon started (pid ${child.pid})\n`);
        child.stderr?.destroy();
        if (child.connected) child.disconnect();
        child.unref();
        finish(0);
      } else {
        failed = true;
        process.stderr.write(`daemon failed to start: ${message.message}\n`);
        // Let the child finish (and its last stderr lines through), but do not wait forever.
        setTimeout(() => {
          child.kill('SIGKILL');
          finish(1);
        }, EXIT_AFTER_ERROR_MS).unref();
      }
    });
    // 'close' (not 'exit'): fires once the child's stderr is drained too.
    child.on('close', (code, signal) => {
      if (settled) return;
      if (!failed) process.stderr.write(`daemon exited before it was ready (${signal ?? `code ${code}`})\n`);
      finish(1);
    });
  });
}

/**
 * Child side: sends `message` to the waiting parent, then closes the IPC channel (the
 * parent is about to exit). No-op when there is no parent listening.
 */
export function notifyDaemonParent(message: DaemonMessage): Promise<void> {
  if (!process.send || !process.connected) return Promise.resolve();
  return new Promise<void>((resolve) => {
    process.send?.(message, () => {
      if (process.connected) process.disconnect();
      resolve();
    });
  });
}

/**
 * Child side, once ready: stops writing to the stderr pipe the parent is about to close
 * (writes would fail with EPIPE). Everything written to `process.stderr` from now on is
 * appended to `errorLog`, synchronously so nothing is lost on exit, or dropped without one.
 */
export function detachStderr(errorLog?: string): void {
  const stderr = process.stderr;
  stderr.on('error', () => {}); // an EPIPE in flight must not crash the daemon
  let fd: number | undefined;
  if (errorLog) {
    try {
      fd = openSync(errorLog, 'a', 0o644);
    } catch {
      fd = undefined; // nowhere to write; drop rather than die
    }
  }
  const write = (chunk: string | Uint8Array, ...rest: unknown[]): boolean => {
    if (fd !== undefined) {
      try {
        if (typeof chunk === 'string') writeSync(fd, chunk);
        else writeSync(fd, chunk);
      } catch {
        // a full disk must not take the server down
      }
    }
    const callback = rest.find((r): r is () => void => typeof r === 'function');
    if (callback) process.nextTick(callback);
    return true;
  };
  Object.defineProperty(stderr, 'write', { value: write, configurable: true, writable: true });
  if (fd !== undefined) {
    const opened = fd;
    process.once('exit', () => {
      try {
        closeSync(opened);
      } catch {
        // already closed
      }
    });
  }
}
