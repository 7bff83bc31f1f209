/**
 * The primary's side of `threads: N`: N worker processes that all accept on the same
 * listening sockets, kept at N.
 *
 * ```
 * primary (binds, runs background services, never accepts)
 *   |-- spawn worker i: sockets as fds 4.., IPC on fd 3 --> init {listeners, ticketKeys, state}
 *   |<-- ready | failed ------------------------------------ worker listens via ctx.openListener
 *   |-- state {topic, payload} to all  (StateChannel.publish in the primary)
 *   |-- shutdown {graceful, timeoutMs} to all (SIGTERM / SIGINT / upgrade)
 *   |-- ask {id, topic} to all --> answer {id, payload} (StateChannel.ask in the primary)
 *   '-- a worker exits while serving: error logged, a new one started (backoff on crash loops)
 * ```
 *
 * Each worker accepts on its own copy of every socket: the kernel hands each connection to
 * one of them, with no hop through the primary. The worker's side is `PrimaryConnection`.
 */
import type { ChildProcess, IOType } from 'node:child_process';
import type { BoundSocket } from '../listeners/bound-socket';
import type { Logger } from '../logger';
import { FIRST_PASSED_FD, spawnSelf } from '../internal/spawn-self';
import { CONF_TEXT_ENV, WORKER_ENV } from '../internal/process-role';
import type { WorkerExit } from '../server-options';
import type { StateChannel, WorkerAnswer } from '../state-channel';
import { isWorkerMessage, type PrimaryMessage } from './worker-messages';
import { WorkerQuestions } from './worker-questions';

/** A replacement starts this soon after a crash; doubled per crash within `CRASH_WINDOW_MS`, up to `MAX_RESTART_DELAY_MS`. */
const FIRST_RESTART_DELAY_MS = 50;
const MAX_RESTART_DELAY_MS = 5000;
/** A worker that dies this soon after it started counts toward a crash loop. */
const CRASH_WINDOW_MS = 2000;
/** How long a starting worker may take to report ready. */
const READY_TIMEOUT_MS = 30_000;
/** Extra time past a shutdown's own timeout before a worker still running is killed. */
const KILL_SLACK_MS = 2000;
/** Larger conf texts are re-read from the file by workers instead of passed in the environment. */
const MAX_CONF_TEXT_IN_ENV = 100_000;

export interface WorkerPoolOptions {
  count: number;
  sockets: readonly BoundSocket[];
  ticketKeys: Buffer;
  channel: StateChannel;
  logger: Logger;
  /** The conf text the primary validated: every worker (even a replacement) runs exactly that. */
  confText: string | undefined;
  stdout: IOType | number;
  stderr: IOType | number;
  /** A serving worker exited unexpectedly (before it is replaced). */
  onUnexpectedExit?(exit: WorkerExit): void;
}

interface Slot {
  id: number;
  child: ChildProcess | undefined;
  startedAt: number;
  restartDelay: number;
}

export class WorkerPool {
  readonly #opts: WorkerPoolOptions;
  readonly #slots: Slot[];
  /** What every worker gets in its environment besides its id. */
  readonly #env: Record<string, string> = {};
  readonly #questions = new WorkerQuestions();
  #stopping = false;

  constructor(opts: WorkerPoolOptions) {
    this.#opts = opts;
    if (opts.confText !== undefined && opts.confText.length < MAX_CONF_TEXT_IN_ENV) this.#env[CONF_TEXT_ENV] = opts.confText;
    this.#slots = Array.from({ length: opts.count }, (_, i) => ({ id: i + 1, child: undefined, startedAt: 0, restartDelay: FIRST_RESTART_DELAY_MS }));
    opts.channel.setBroadcast((topic, payload) => this.broadcast({ pingora: 'state', topic, payload }));
    opts.channel.setAsker((topic, timeoutMs) => this.#ask(topic, timeoutMs));
  }

  /** Asks every connected worker `topic` (see `StateChannel.ask`). */
  #ask(topic: string, timeoutMs: number): Promise<WorkerAnswer[]> {
    const slots = this.#slots.filter((s) => s.child?.connected === true && s.child.exitCode === null);
    return this.#questions.ask(
      slots.map((s) => s.id),
      timeoutMs,
      (workerId, id) => {
        const child = this.#slots[workerId - 1]?.child;
        if (child?.connected) child.send({ pingora: 'ask', id, topic } satisfies PrimaryMessage, (err) => err && this.#questions.gone(workerId));
        else this.#questions.gone(workerId);
      },
    );
  }

  /** Starts every worker; resolves once all are ready, rejects with the first failure. */
  async start(): Promise<void> {
    await Promise.all(this.#slots.map((slot) => this.#spawn(slot)));
  }

  /** The pids of the workers running now. */
  pids(): number[] {
    return this.#slots.flatMap((s) => (s.child?.pid !== undefined && s.child.exitCode === null ? [s.child.pid] : []));
  }

  broadcast(message: PrimaryMessage): void {
    for (const slot of this.#slots) {
      if (slot.child?.connected) slot.child.send(message, (err) => err && this.#opts.logger.debug({ worker: slot.id, err }, 'message to worker lost'));
    }
  }

  /**
   * Asks every worker to shut down (no more replacements) and resolves once all have exited;
   * a worker still running `timeoutMs` + 2 s later is killed.
   */
  async shutdown(graceful: boolean, timeoutMs: number): Promise<void> {
    this.#stopping = true;
    this.#opts.channel.setBroadcast(undefined);
    this.#opts.channel.setAsker(undefined);
    const running = this.#slots.flatMap((s) => (s.child && s.child.exitCode === null && s.child.signalCode === null ? [s.child] : []));
    this.broadcast({ pingora: 'shutdown', graceful, timeoutMs });
    await Promise.all(running.map((child) => waitExit(child, timeoutMs + KILL_SLACK_MS)));
  }

  #spawn(slot: Slot): Promise<void> {
    const { sockets, logger } = this.#opts;
    const fds = sockets.map((s) => s.fd);
    const child = spawnSelf({ fds, env: { ...this.#env, [WORKER_ENV]: String(slot.id) }, stdout: this.#opts.stdout, stderr: this.#opts.stderr });
    slot.child = child;
    slot.startedAt = Date.now();
    const listeners = sockets.map((s, i) => ({ key: s.key, addr: s.addr, fd: FIRST_PASSED_FD + i }));
    return new Promise<void>((resolve, reject) => {
      let ready = false;
      const timer = setTimeout(() => {
        if (ready) return;
        child.kill('SIGKILL');
        reject(new Error(`worker ${slot.id} was not ready within ${READY_TIMEOUT_MS / 1000} s`));
      }, READY_TIMEOUT_MS);
      child.on('message', (message: unknown) => {
        if (!isWorkerMessage(message)) return;
        if (message.pingora === 'hello') {
          // The state snapshot is taken now, so the worker misses no publish in between.
          child.send({ pingora: 'init', id: slot.id, listeners, ticketKeys: this.#opts.ticketKeys.toString('base64'), state: this.#opts.channel.snapshot() } satisfies PrimaryMessage);
        } else if (message.pingora === 'ready' && !ready) {
          ready = true;
          clearTimeout(timer);
          logger.debug({ worker: slot.id, pid: child.pid }, 'worker ready');
          resolve();
        } else if (message.pingora === 'failed' && !ready) {
          clearTimeout(timer);
          reject(new Error(message.message));
        } else if (message.pingora === 'publish') {
          this.#opts.channel.publish(message.topic, message.payload);
        } else if (message.pingora === 'answer' && slot.child === child && child.pid !== undefined) {
          this.#questions.answered(message.id, slot.id, child.pid, message.payload);
        }
      });
      child.on('error', (err) => logger.error({ worker: slot.id, err }, 'worker process error'));
      child.on('exit', (code, signal) => {
        clearTimeout(timer);
        if (slot.child === child) this.#questions.gone(slot.id);
        if (!ready) {
          reject(new Error(`worker ${slot.id} exited before it was ready (${signal ?? `code ${code}`})`));
          return;
        }
        if (this.#stopping || slot.child !== child) return;
        this.#replace(slot, code, signal);
      });
    });
  }

  #replace(slot: Slot, code: number | null, signal: NodeJS.Signals | null): void {
    const crashedEarly = Date.now() - slot.startedAt < CRASH_WINDOW_MS;
    const delay = crashedEarly ? slot.restartDelay : FIRST_RESTART_DELAY_MS;
    slot.restartDelay = crashedEarly ? Math.min(slot.restartDelay * 2, MAX_RESTART_DELAY_MS) : FIRST_RESTART_DELAY_MS;
    this.#opts.logger.error({ worker: slot.id, pid: slot.child?.pid, code, signal, restartInMs: delay }, 'worker exited unexpectedly; starting a new one');
    // (null, null): a replacement failed to start, logged as such; not a serving worker's exit.
    if (code !== null || signal !== null) this.#opts.onUnexpectedExit?.({ worker: slot.id, pid: slot.child?.pid, code, signal });
    slot.child = undefined;
    setTimeout(() => {
      if (this.#stopping) return;
      this.#spawn(slot).then(
        () => this.#opts.logger.info({ worker: slot.id, pid: slot.child?.pid }, 'worker replaced'),
        (err: unknown) => {
          this.#opts.logger.error({ worker: slot.id, err }, 'replacement worker failed to start');
          slot.child?.kill('SIGKILL');
          if (!this.#stopping) this.#replace(slot, null, null);
        },
      );
    }, delay);
  }
}

function waitExit(child: ChildProcess, killAfterMs: number): Promise<void> {
  return new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    const timer = setTimeout(() => child.kill('SIGKILL'), killAfterMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}
