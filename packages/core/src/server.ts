/**
 * The process that runs services, after Pingora's `Server`: it reads options and conf,
 * bootstraps (`-t`, `-u`, daemon), starts every service, writes the pid file, and turns
 * signals into an orderly shutdown.
 *
 * Lifecycle, published as `server.on('phase', ...)`:
 *
 * ```
 * bootstrap -> running -> graceful-terminate (SIGTERM) -> shutdown
 *                      \-> fast-shutdown (SIGINT)     -/
 * (a bind error goes from bootstrap straight to shutdown; run() resolves 1)
 * ```
 *
 * SIGQUIT and SIGHUP would start a zero-downtime upgrade in Pingora; until pingora-ts
 * supports it they log a warning and the server keeps serving.
 */
import { EventEmitter } from 'node:events';
import { basename } from 'node:path';
import type { z } from 'zod';
import { daemonize, detachStderr, isDaemonChild, notifyDaemonParent } from './daemon';
import { errorMessage, errorName } from './internal/error-message';
import { loadConfFile, validateConf } from './load-conf';
import type { Logger } from './logger';
import { Opt } from './opt';
import { removePidFile, writePidFile } from './pid-file';
import { gracefulShutdownTimeoutMs, serverConfSchema, type ServerConf } from './server-conf';
import type { BackgroundService, ListeningService, Service } from './service';
import { createStderrLogger } from './stderr-logger';

/** Where the server is in its life; see the chart at the top of this file. */
export type ServerPhase = 'bootstrap' | 'running' | 'graceful-terminate' | 'fast-shutdown' | 'shutdown';

/** The events a `Server` emits, with their arguments. */
export interface ServerEvents {
  /** Emitted once per phase, in order, synchronously as the server enters it. */
  phase: [phase: ServerPhase];
}

/** A conf given as an object: like the YAML file, keys with a default may be left out. */
export type ConfInput<C> = C extends readonly (infer E)[] ? ConfInput<E>[] : C extends object ? { [K in keyof C]?: ConfInput<C[K]> } : C;

export interface ServerOptions<C extends ServerConf = ServerConf> {
  /** The conf as an object; when given, `opt.conf` is not read. Validated by `schema`. */
  conf?: ConfInput<C>;
  /** The conf schema: `serverConfSchema` or an app's `serverConfSchema.extend({...})`. */
  schema?: z.ZodType<C>;
  /** Where the server logs (default: one line per entry on stderr). */
  logger?: Logger;
  /** Name shown by `--help` and `--version` (default: the script's file name). */
  program?: string;
  /** Printed by `--version`. */
  version?: string;
}

/** The upgrade signals we do not act on yet (see the file comment). */
const UPGRADE_SIGNALS = ['SIGQUIT', 'SIGHUP'] as const;
const HANDLED_SIGNALS = ['SIGTERM', 'SIGINT', ...UPGRADE_SIGNALS] as const;
type HandledSignal = (typeof HANDLED_SIGNALS)[number];

/** Extra time given to a service's own shutdown timeout before the server stops waiting. */
const SHUTDOWN_SLACK_MS = 1000;

export class Server<C extends ServerConf = ServerConf> extends EventEmitter<ServerEvents> {
  readonly opt: Opt;
  /** The validated conf, every default filled in. */
  readonly conf: C;
  /** The conf file read, if any. */
  readonly confFile: string | undefined;
  /** Where the server logs; apps may swap it (e.g. for a file logger made from the conf) before `run()`. */
  logger: Logger;
  readonly #program: string;
  readonly #version: string | undefined;
  /** How `-t` names the conf: the file, `<options.conf>` or `<defaults>`. */
  readonly #confLabel: string;
  readonly #services: Service[] = [];
  #phase: ServerPhase | undefined;
  #bootstrap: Promise<void> | undefined;
  #run: Promise<number> | undefined;
  #daemonChild = false;
  #stopping: 'graceful' | 'fast' | undefined;
  #resolveStop!: () => void;
  readonly #stop = new Promise<void>((resolve) => {
    this.#resolveStop = resolve;
  });

  /**
   * Reads the conf: `options.conf` if given, else the file `opt.conf`, else defaults, all
   * validated by `options.schema ?? serverConfSchema`. Throws `ConfError` when invalid; the
   * app prints its one-line `message` and exits 1.
   */
  constructor(opt?: Opt | null, options: ServerOptions<C> = {}) {
    super();
    this.opt = opt ?? new Opt();
    const schema = (options.schema ?? serverConfSchema) as z.ZodType<C>;
    if (options.conf !== undefined) {
      this.confFile = undefined;
      this.#confLabel = '<options.conf>';
      this.conf = validateConf(options.conf, schema, this.#confLabel);
    } else if (this.opt.conf !== undefined) {
      this.confFile = this.opt.conf;
      this.#confLabel = this.opt.conf;
      this.conf = loadConfFile(this.opt.conf, schema);
    } else {
      this.#confLabel = '<defaults>';
      this.conf = validateConf({}, schema, this.#confLabel);
    }
    this.logger = options.logger ?? createStderrLogger();
    this.#program = options.program ?? basename(process.argv[1] ?? 'pingora-ts');
    this.#version = options.version;
  }

  /** The current phase; `undefined` before `bootstrap()`. */
  get phase(): ServerPhase | undefined {
    return this.#phase;
  }

  /** The services added so far, in order. */
  get services(): readonly Service[] {
    return this.#services;
  }

  /** Adds a service; all of them start in `run()`. Throws once `run()` has been called. */
  addService(service: Service): this {
    if (this.#run) throw new Error(`cannot add service "${service.name}": the server is already running`);
    if (service.kind !== 'listening' && service.kind !== 'background') {
      throw new TypeError(`service "${String((service as { name?: unknown }).name)}" has an unknown kind`);
    }
    this.#services.push(service);
    return this;
  }

  addServices(services: Iterable<Service>): this {
    for (const service of services) this.addService(service);
    return this;
  }

  /**
   * Acts on the command line before anything starts. Idempotent; `run()` calls it too.
   * - `-h`/`-V`: prints usage/version, exits 0. `-t`: prints `conf <file> ok`, exits 0
   *   (an invalid conf already threw in the constructor).
   * - `-u`: prints that upgrade is not supported yet, exits 2.
   * - `-d` or `daemon: true`: starts the daemon child and exits 0 once it listens, 1 if it
   *   fails (see `daemon.ts`). In the child, it returns and the app goes on to `run()`.
   */
  bootstrap(): Promise<void> {
    this.#bootstrap ??= this.#bootstrapOnce();
    return this.#bootstrap;
  }

  async #bootstrapOnce(): Promise<void> {
    this.#enter('bootstrap');
    const { opt } = this;
    if (opt.help) exitWith(0, process.stdout, Opt.usage(this.#program));
    if (opt.version) exitWith(0, process.stdout, `${this.#program} ${this.#version ?? 'unknown'}\n`);
    if (opt.test) exitWith(0, process.stdout, `conf ${this.#confLabel} ok\n`);
    if (opt.upgrade) exitWith(2, process.stderr, '-u/--upgrade: zero-downtime upgrade is not supported yet\n');
    if (isDaemonChild()) this.#daemonChild = true;
    else if (opt.daemon || this.conf.daemon) process.exit(await daemonize());
  }

  /**
   * Starts every service and serves until a signal or `shutdown()`. Resolves the exit code:
   * 0 after a shutdown, 1 when a listener could not bind. Idempotent (one run per server).
   */
  run(): Promise<number> {
    this.#run ??= this.#runOnce();
    return this.#run;
  }

  /** `run()`, then exit the process with its code. */
  async runForever(): Promise<never> {
    return process.exit(await this.run());
  }

  /**
   * Stops the server as SIGTERM (`graceful: true`, the default) or SIGINT (`false`) would,
   * and resolves once `run()` has finished. A fast request during a graceful shutdown asks
   * every listening service to close now. Before `run()`, makes `run()` stop right away.
   */
  async shutdown(opts: { graceful: boolean } = { graceful: true }): Promise<void> {
    if (this.#stopping === undefined) {
      this.#stopping = opts.graceful ? 'graceful' : 'fast';
      this.#resolveStop();
    } else if (!opts.graceful && this.#stopping === 'graceful') {
      this.#stopping = 'fast';
      if (this.#phase === 'graceful-terminate') void this.#stopListening(false, 0);
    }
    if (this.#run) await this.#run;
  }

  async #runOnce(): Promise<number> {
    await this.bootstrap();
    const { conf, logger } = this;
    // Serve until told to stop, even when no service holds the event loop open.
    const keepAlive = setInterval(() => {}, 2 ** 31 - 1);
    const onSignal = (signal: HandledSignal): void => this.#onSignal(signal);
    for (const signal of HANDLED_SIGNALS) process.on(signal, onSignal);
    let pidWritten = false;
    try {
      const failure = await this.#listenAll();
      if (failure === undefined) {
        try {
          writePidFile(conf.pid_file);
          pidWritten = true;
        } catch (err) {
          logger.error({ err, pid_file: conf.pid_file }, 'cannot write the pid file');
          // A daemon nobody can find is worse than no daemon.
          if (this.#daemonChild) return await this.#fail(`cannot write the pid file ${conf.pid_file}: ${errorMessage(err)}`);
        }
      } else {
        return await this.#fail(failure);
      }
      const controller = new AbortController();
      const background = this.#services.filter((s): s is BackgroundService => s.kind === 'background');
      const running = background.map((s) => this.#runBackground(s, controller.signal));
      this.#enter('running');
      if (this.#daemonChild) {
        await notifyDaemonParent({ type: 'ready', pid: process.pid });
        detachStderr(conf.error_log);
      }
      await this.#stop;
      const graceful = this.#stopping === 'graceful'; // a SIGINT may have overtaken a SIGTERM
      this.#enter(graceful ? 'graceful-terminate' : 'fast-shutdown');
      const timeoutMs = graceful ? gracefulShutdownTimeoutMs(conf) : 0;
      await this.#stopListening(graceful, timeoutMs);
      controller.abort();
      await Promise.all(running.map((p, i) => this.#bounded(p, timeoutMs + SHUTDOWN_SLACK_MS, background[i]?.name ?? '?', 'stop')));
      return 0;
    } finally {
      if (pidWritten) removePidFile(conf.pid_file);
      for (const signal of HANDLED_SIGNALS) process.off(signal, onSignal);
      clearInterval(keepAlive);
      this.#enter('shutdown');
    }
  }

  #listening(): ListeningService[] {
    return this.#services.filter((s): s is ListeningService => s.kind === 'listening');
  }

  /** Listens on every listening service; returns the first failure's message, if any. */
  async #listenAll(): Promise<string | undefined> {
    const services = this.#listening();
    const results = await Promise.allSettled(services.map((s) => s.listen()));
    let failure: string | undefined;
    results.forEach((result, i) => {
      const name = services[i]?.name ?? '?';
      if (result.status === 'rejected') {
        this.logger.error({ service: name, err: result.reason }, 'cannot listen');
        failure ??= `${name}: ${errorMessage(result.reason)}`;
      } else {
        this.logger.info({ service: name, addresses: services[i]?.addresses() ?? [] }, 'listening');
      }
    });
    return failure;
  }

  /** Startup failed: close whatever did start, tell a waiting daemon parent, exit code 1. */
  async #fail(message: string): Promise<number> {
    await this.#stopListening(false, 0);
    if (this.#daemonChild) await notifyDaemonParent({ type: 'error', message });
    return 1;
  }

  async #stopListening(graceful: boolean, timeoutMs: number): Promise<void> {
    await Promise.all(
      this.#listening().map((s) => this.#bounded(Promise.resolve().then(() => s.shutdown({ graceful, timeoutMs })), timeoutMs + SHUTDOWN_SLACK_MS, s.name, 'shutdown')),
    );
  }

  /** A background service runs once; its failure is logged and never stops the server. */
  async #runBackground(service: BackgroundService, signal: AbortSignal): Promise<void> {
    try {
      await service.run(signal);
      if (!signal.aborted) this.logger.warn({ service: service.name }, 'background service stopped on its own');
    } catch (err) {
      if (signal.aborted && errorName(err) === 'AbortError') return;
      this.logger.error({ service: service.name, err }, 'background service failed');
    }
  }

  /** Awaits `work` for at most `ms`, logging a failure or a timeout instead of throwing. */
  async #bounded(work: Promise<void>, ms: number, service: string, what: string): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(resolve, ms, 'timeout');
    });
    try {
      if ((await Promise.race([work, timedOut])) === 'timeout') this.logger.warn({ service, timeoutMs: ms }, `${what} did not finish in time; moving on`);
    } catch (err) {
      this.logger.error({ service, err }, `${what} failed`);
    } finally {
      clearTimeout(timer);
    }
  }

  #onSignal(signal: HandledSignal): void {
    if (signal === 'SIGTERM' || signal === 'SIGINT') {
      const graceful = signal === 'SIGTERM';
      this.logger.info({ signal }, graceful ? 'graceful shutdown' : 'fast shutdown');
      void this.shutdown({ graceful });
    } else {
      this.logger.warn({ signal }, 'zero-downtime upgrade is not supported yet; still serving');
    }
  }

  #enter(phase: ServerPhase): void {
    this.#phase = phase;
    this.emit('phase', phase);
  }
}

function exitWith(code: number, stream: NodeJS.WriteStream, text: string): never {
  stream.write(text);
  return process.exit(code);
}
