/** The types a `Server` is built and observed with: its options, phases, role and events. */
import type { z } from 'zod';
import type { Logger } from './logger';
import type { ServerConf } from './server-conf';

/** Where the server is in its life; see the chart at the top of `server.ts`. */
export type ServerPhase = 'bootstrap' | 'running' | 'graceful-terminate' | 'fast-shutdown' | 'graceful-upgrade' | 'shutdown';

/** What this process is: one process serving alone, a primary of workers, or a worker. */
export type ServerRole = 'single' | 'primary' | 'worker';

/** A worker that exited while it should have served (a crash, a kill): the primary replaces it. */
export interface WorkerExit {
  /** 1..threads. */
  worker: number;
  pid: number | undefined;
  /** The exit code, or null when a signal ended it. */
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** The events a `Server` emits, with their arguments. */
export interface ServerEvents {
  /** Emitted once per phase, in order, synchronously as the server enters it. */
  phase: [phase: ServerPhase];
  /** Primary only: a serving worker exited unexpectedly (it is replaced; see README "Workers"). */
  'worker-exit': [exit: WorkerExit];
}

/** A conf given as an object: like the YAML file, keys with a default may be left out. */
export type ConfInput<C> = C extends readonly (infer E)[] ? ConfInput<E>[] : C extends object ? { [K in keyof C]?: ConfInput<C[K]> } : C;

export interface ServerOptions<C extends ServerConf = ServerConf> {
  /** The conf as an object; when given, `opt.conf` is not read. Validated by `schema`. */
  conf?: ConfInput<C>;
  /** The conf schema: `serverConfSchema` or an app's `serverConfSchema.extend({...})`. */
  schema?: z.ZodType<C>;
  /**
   * Checks beyond the schema (e.g. `checkListenerConfig` on every listener, which reads the
   * certificate files), run by `-t` and on SIGHUP before an upgrade. Throw a `ConfError`.
   */
  validate?: (conf: C, file: string) => void;
  /** Where the server logs (default: one line per entry on stderr). */
  logger?: Logger;
  /** Name shown by `--help` and `--version` (default: the script's file name). */
  program?: string;
  /** Printed by `--version`. */
  version?: string;
}

/**
 * What `bootstrap()` decided. `done: true`: this process has nothing more to do and should
 * end with `exitCode` — it answered `-h`, `-V` or `-t`, or it is the parent of a daemon
 * (which now serves, or failed to start). `done: false`: go on to `run()`.
 */
export type BootstrapResult = { done: false } | { done: true; exitCode: number; reason: 'help' | 'version' | 'test' | 'daemon-parent' };
