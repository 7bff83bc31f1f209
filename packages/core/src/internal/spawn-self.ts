/**
 * Starts this same program again (same Node flags, script and arguments) with listening
 * sockets passed as descriptors 4, 5, ... (3 is the IPC channel): how a primary starts its
 * workers and how a SIGHUP starts the next generation. Passing descriptors through stdio
 * slots is plain `child_process` API: each child gets its own copy of every socket.
 */
import { spawn, type ChildProcess, type IOType } from 'node:child_process';
import { STRAY_FDS_ENV, strayFdsFor } from './process-role';

/** The first descriptor number a passed socket gets in the child. */
export const FIRST_PASSED_FD = 4;

export interface SpawnSelfOptions {
  /** Listening sockets to pass, in order: the child finds them at 4, 5, ... */
  fds: readonly number[];
  /** Extra environment (the rest is inherited). */
  env: Record<string, string>;
  /** Where the child's stdout and stderr go: `'inherit'`, `'ignore'` or a descriptor (a log file). */
  stdout: IOType | number;
  stderr: IOType | number;
  /** Own session and process group: the child outlives us (a new generation). */
  detached?: boolean;
}

export function spawnSelf(opts: SpawnSelfOptions): ChildProcess {
  const stdio: Array<IOType | 'ipc' | number> = ['ignore', opts.stdout, opts.stderr, 'ipc', ...opts.fds];
  const strays = strayFdsFor(stdio.length, opts.fds);
  const env: NodeJS.ProcessEnv = { ...process.env, ...opts.env };
  if (strays.length > 0) env[STRAY_FDS_ENV] = strays.join(',');
  return spawn(process.execPath, [...process.execArgv, ...process.argv.slice(1)], { stdio, env, detached: opts.detached ?? false });
}
