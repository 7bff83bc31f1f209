/**
 * The process that runs services, after Pingora's `Server`: it reads options and conf,
 * bootstraps (`-t`, `-d`), binds the listeners, starts every service (in worker processes
 * with `threads` > 1), writes the pid file, and turns signals into an orderly shutdown or a
 * zero-downtime upgrade.
 *
 * Lifecycle, published as `server.on('phase', ...)`:
 *
 * ```
 * bootstrap -> running -> graceful-terminate (SIGTERM) -> shutdown
 *                      \-> fast-shutdown (SIGINT)     -/
 *                      \-> graceful-upgrade (a new process took the sockets over) -/
 * (a startup error goes from bootstrap straight to shutdown; run() resolves 1)
 * ```
 *
 * Roles: `threads: 1` is one process that binds and serves. `threads: N` makes this process
 * the primary (binds, runs background services, supervises) and starts N workers, the same
 * program with `PINGORA_TS_WORKER` set, which serve. See README "Workers" and "Upgrades".
 *
 * This file decides what happens when; the mechanics live next to it: `workers/` (the
 * primary's `WorkerPool`, a worker's `PrimaryConnection`, their messages) and `upgrade/`
 * (`takeOverListeners` in the new process, `handOverListeners` in the old one).
 */
import { readFileSync } from 'node:fs';
import { EventEmitter } from 'node:events';
import { basename } from 'node:path';
import type { z } from 'zod';
import { ConfError } from './conf-error';
import { daemonize, detachStderr, isDaemonChild, notifyDaemonParent } from './daemon';
import { errorMessage, errorName } from './internal/error-message';
import { childStdio } from './internal/child-stdio';
import { createServerHandleUnavailable } from './internal/node/node-handles';
import { CONF_TEXT_ENV, HANDOFF_ENV, WORKER_ENV, closeStrayFds, takeEnv } from './internal/process-role';
import { ListenerRegistry, type InheritedSocket } from './listeners/listener-registry';
import { parseListenerConfig } from './listeners/listener';
import type { ListenerConfig } from './listeners/listener-config';
import { loadConfFile, parseConf, validateConf } from './load-conf';
import type { Logger } from './logger';
import { Opt } from './opt';
import { removePidFile, writePidFile } from './pid-file';
import { dropPrivileges } from './privileges';
import { gracefulShutdownTimeoutMs, serverConfSchema, type ServerConf } from './server-conf';
import type { BackgroundContext, BackgroundService, BoundAddress, ListenContext, ListeningService, Service } from './service';
import { StateChannel } from './state-channel';
import { createStderrLogger } from './stderr-logger';
import { handOverListeners } from './upgrade/hand-over';
import { takeOverListeners, type TakeOver } from './upgrade/take-over';
import type { ReceivedHandoff } from './upgrade/upgrade-socket';
import { PrimaryConnection } from './workers/primary-connection';
import { WorkerPool } from './workers/worker-pool';

/** Where the server is in its life; see the chart at the top of this file. */
export type ServerPhase = 'bootstrap' | 'running' | 'graceful-terminate' | 'fast-shutdown' | 'graceful-upgrade' | 'shutdown';

/** What this process is: one process serving alone, a primary of workers, or a worker. */
export type ServerRole = 'single' | 'primary' | 'worker';

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

const HANDLED_SIGNALS = ['SIGTERM', 'SIGINT', 'SIGQUIT', 'SIGHUP'] as const;
type HandledSignal = (typeof HANDLED_SIGNALS)[number];
type StopReason = 'graceful' | 'fast' | 'upgrade';

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
  /** Background services publish here; listening services (in every worker) subscribe. */
  readonly channel = new StateChannel();
  readonly #program: string;
  readonly #version: string | undefined;
  readonly #schema: z.ZodType<C>;
  readonly #validate: ((conf: C, file: string) => void) | undefined;
  /** How `-t` names the conf: the file, `<options.conf>` or `<defaults>`. */
  readonly #confLabel: string;
  /** The conf file's text as validated, passed on to workers. */
  readonly #confText: string | undefined;
  readonly #role: ServerRole;
  readonly #workerId: number;
  /** Started by a SIGHUP of an old generation: the sockets come over IPC. */
  readonly #handoffChild: boolean;
  readonly #services: Service[] = [];
  #phase: ServerPhase | undefined;
  #bootstrap: Promise<void> | undefined;
  #run: Promise<number> | undefined;
  #daemonChild = false;
  #registry: ListenerRegistry | undefined;
  #pool: WorkerPool | undefined;
  /** A handoff to a new process is in progress. */
  #upgrading = false;
  #stopping: StopReason | undefined;
  #workerTimeoutMs: number | undefined;
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
    closeStrayFds();
    this.opt = opt ?? new Opt();
    const schema = (options.schema ?? serverConfSchema) as z.ZodType<C>;
    this.#schema = schema;
    this.#validate = options.validate;
    const worker = takeEnv(WORKER_ENV);
    this.#workerId = worker === undefined ? 0 : Number(worker);
    this.#handoffChild = takeEnv(HANDOFF_ENV) === '1';
    const confText = takeEnv(CONF_TEXT_ENV);
    if (options.conf !== undefined) {
      this.confFile = undefined;
      this.#confLabel = '<options.conf>';
      this.conf = validateConf(options.conf, schema, this.#confLabel);
    } else if (this.opt.conf !== undefined) {
      this.confFile = this.opt.conf;
      this.#confLabel = this.opt.conf;
      // A worker runs the conf its primary validated, even if the file changed since.
      this.#confText = confText ?? readConfText(this.opt.conf, schema);
      this.conf = parseConf(this.#confText, this.opt.conf, schema);
    } else {
      this.#confLabel = '<defaults>';
      this.conf = validateConf({}, schema, this.#confLabel);
    }
    this.#role = this.#workerId > 0 ? 'worker' : this.conf.threads > 1 ? 'primary' : 'single';
    this.logger = options.logger ?? createStderrLogger();
    this.#program = options.program ?? basename(process.argv[1] ?? 'pingora-ts');
    this.#version = options.version;
  }

  /** The current phase; `undefined` before `bootstrap()`. */
  get phase(): ServerPhase | undefined {
    return this.#phase;
  }

  /** `'single'` (`threads: 1`), `'primary'` (`threads` > 1, this process supervises) or `'worker'`. */
  get role(): ServerRole {
    return this.#role;
  }

  /** 1..threads in a worker, 0 elsewhere. */
  get workerId(): number {
    return this.#workerId;
  }

  /** The services added so far, in order. */
  get services(): readonly Service[] {
    return this.#services;
  }

  /**
   * Where core's listeners are bound (real ports when `:0` was asked for): every socket this
   * process holds (single process, primary) or accepts on (worker). Services that bind their
   * own sockets report theirs in `addresses()`.
   */
  listenerAddresses(): BoundAddress[] {
    const registry = this.#registry;
    if (!registry) return [];
    return this.#role === 'worker' ? registry.listeners().map((l) => l.address()) : registry.sockets().map((s) => s.address());
  }

  /** The pids of the running workers (primary only; empty elsewhere). */
  workerPids(): number[] {
    return this.#pool?.pids() ?? [];
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
   * - `-h`/`-V`: prints usage/version, exits 0.
   * - `-t`: runs `options.validate`, prints `conf <file> ok` and exits 0, or prints the
   *   one-line ConfError and exits 1 (a conf the schema rejects already threw in the constructor).
   * - `-d` or `daemon: true`: starts the daemon child and exits 0 once it listens, 1 if it
   *   fails (see `daemon.ts`). In the child, it returns and the app goes on to `run()`.
   * - `-u` is acted on by `run()`: it takes the sockets over from the old process.
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
    if (opt.test) {
      try {
        this.#validate?.(this.conf, this.#confLabel);
      } catch (err) {
        if (!(err instanceof ConfError)) throw err;
        exitWith(1, process.stderr, `${err.message}\n`);
      }
      exitWith(0, process.stdout, `conf ${this.#confLabel} ok\n`);
    }
    if (this.#role === 'worker') return;
    if (isDaemonChild()) this.#daemonChild = true;
    else if (opt.daemon || this.conf.daemon) process.exit(await daemonize());
  }

  /**
   * Starts every service and serves until a signal or `shutdown()`. Resolves the exit code:
   * 0 after a shutdown or an upgrade, 1 when startup failed. Idempotent (one run per server).
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
    this.#requestStop(opts.graceful ? 'graceful' : 'fast');
    if (this.#run) await this.#run;
  }

  #requestStop(reason: StopReason): void {
    if (this.#stopping === undefined) {
      this.#stopping = reason;
      this.#resolveStop();
    } else if (reason === 'fast' && this.#stopping !== 'fast') {
      this.#stopping = 'fast';
      if (this.#phase === 'graceful-terminate' || this.#phase === 'graceful-upgrade') void this.#stopServing(false, 0);
    }
  }

  async #runOnce(): Promise<number> {
    await this.bootstrap();
    if (this.#role === 'worker') return this.#runWorker();
    const { conf, logger } = this;
    // Serve until told to stop, even when no service holds the event loop open.
    const keepAlive = setInterval(() => {}, 2 ** 31 - 1);
    const onSignal = (signal: HandledSignal): void => this.#onSignal(signal);
    for (const signal of HANDLED_SIGNALS) process.on(signal, onSignal);
    let pidWritten = false;
    const parentWaits = this.#daemonChild || this.#handoffChild;
    try {
      let taken: TakeOver;
      try {
        taken = await this.#takeOver();
      } catch (err) {
        return await this.#fail(`upgrade: ${errorMessage(err)}`, parentWaits, undefined);
      }
      const { header, inherited, received } = taken;
      const registry = new ListenerRegistry(logger, header ? { ticketKeys: Buffer.from(header.ticketKeys, 'base64') } : {});
      this.#registry = registry;
      const failure = await this.#start(registry, inherited);
      if (failure !== undefined) return await this.#fail(failure, parentWaits, received);
      try {
        writePidFile(conf.pid_file);
        pidWritten = true;
      } catch (err) {
        logger.error({ err, pid_file: conf.pid_file }, 'cannot write the pid file');
        // A daemon nobody can find is worse than no daemon.
        if (this.#daemonChild) return await this.#fail(`cannot write the pid file ${conf.pid_file}: ${errorMessage(err)}`, parentWaits, received);
      }
      const controller = new AbortController();
      const background = this.#services.filter((s): s is BackgroundService => s.kind === 'background');
      const bgCtx: BackgroundContext = { channel: this.channel, logger };
      const running = background.map((s) => this.#runBackground(s, controller.signal, bgCtx));
      this.#enter('running');
      if (received) await received.reply({ ok: true, pid: process.pid });
      if (header) logger.info({ from: header.pid }, 'took the listening sockets over; serving');
      if (parentWaits) await notifyDaemonParent({ type: 'ready', pid: process.pid });
      if (this.#daemonChild) detachStderr(conf.error_log);
      await this.#stop;
      const reason = this.#stopping ?? 'graceful';
      this.#enter(reason === 'upgrade' ? 'graceful-upgrade' : reason === 'graceful' ? 'graceful-terminate' : 'fast-shutdown');
      const timeoutMs = reason === 'fast' ? 0 : reason === 'upgrade' ? this.#gracePeriodMs() : gracefulShutdownTimeoutMs(conf);
      await this.#stopServing(reason !== 'fast', timeoutMs);
      controller.abort();
      await Promise.all(running.map((p, i) => this.#bounded(p, timeoutMs + SHUTDOWN_SLACK_MS, background[i]?.name ?? '?', 'stop')));
      registry.closeAll(reason === 'upgrade' ? 'handed-over' : 'final');
      return 0;
    } finally {
      if (pidWritten) removePidFile(conf.pid_file);
      for (const signal of HANDLED_SIGNALS) process.off(signal, onSignal);
      clearInterval(keepAlive);
      this.#enter('shutdown');
    }
  }

  /** The old process's sockets when this one was started to take them over (`-u`, or by a SIGHUP). */
  #takeOver(): Promise<TakeOver> {
    const { conf } = this;
    return takeOverListeners({
      handoffChild: this.#handoffChild,
      upgrade: this.opt.upgrade,
      upgradeSock: conf.upgrade_sock,
      sharedSock: conf.user !== undefined || conf.group !== undefined,
      selfBinding: this.#selfBinding(),
      logger: this.logger,
      stopped: this.#stop,
    });
  }

  /** Binds, drops privileges, starts the listening services (or the workers). Returns a failure message, if any. */
  async #start(registry: ListenerRegistry, inherited: InheritedSocket[]): Promise<string | undefined> {
    const listening = this.#listening();
    // No fallback for binding: one line naming the Node.js version, before anything is bound.
    if (listening.length > 0 && createServerHandleUnavailable !== null) return createServerHandleUnavailable;
    const declared: ListenerConfig[] = [];
    try {
      for (const s of listening) for (const cfg of s.listenerConfigs ?? []) declared.push(parseListenerConfig(cfg));
    } catch (err) {
      return errorMessage(err);
    }
    const selfBinding = this.#selfBinding();
    if (this.#role === 'primary' && selfBinding.length > 0) {
      return `threads: ${this.conf.threads} needs services that declare their listeners (listenerConfigs); ${selfBinding.join(', ')} binds its own sockets`;
    }
    try {
      await registry.prepare(declared, inherited);
    } catch (err) {
      this.logger.error({ err }, 'cannot listen');
      return errorMessage(err);
    }
    try {
      dropPrivileges({ user: this.conf.user, group: this.conf.group });
    } catch (err) {
      return errorMessage(err);
    }
    if (this.#role === 'single') return this.#listenAll(this.#listenContext(registry));
    const stdio = childStdio({ daemon: this.#daemonChild, errorLog: this.conf.error_log, logger: this.logger });
    const pool = new WorkerPool({ count: this.conf.threads, sockets: registry.sockets(), ticketKeys: registry.ticketKeys, channel: this.channel, logger: this.logger, confText: this.#confText, stdout: stdio.stdout, stderr: stdio.stderr });
    this.#pool = pool;
    try {
      await pool.start();
      this.logger.info({ workers: pool.pids(), addresses: registry.sockets().map((s) => s.address()) }, 'workers listening');
      return undefined;
    } catch (err) {
      await pool.shutdown(false, 0);
      return errorMessage(err);
    } finally {
      stdio.release();
    }
  }

  /** A worker: gets its sockets from the primary, serves, stops when told (or when the primary is gone). */
  async #runWorker(): Promise<number> {
    const keepAlive = setInterval(() => {}, 2 ** 31 - 1);
    // Signals to a whole process group (a terminal's Ctrl-C) reach workers too; the upgrade
    // signals are the primary's business, and must not kill a worker by their default action.
    const onSignal = (signal: HandledSignal): void => {
      if (signal === 'SIGTERM') this.#requestStop('graceful');
      else if (signal === 'SIGINT') this.#requestStop('fast');
    };
    for (const signal of HANDLED_SIGNALS) process.on(signal, onSignal);
    const primary = new PrimaryConnection({
      workerId: this.#workerId,
      logger: this.logger,
      channel: this.channel,
      onStop: (graceful, timeoutMs) => {
        if (timeoutMs !== undefined) this.#workerTimeoutMs = timeoutMs;
        this.#requestStop(graceful ? 'graceful' : 'fast');
      },
    });
    try {
      const registry = await primary.init();
      this.#registry = registry;
      const failure = await this.#listenAll(this.#listenContext(registry));
      if (failure !== undefined) {
        primary.failed(failure);
        await this.#stopServing(false, 0);
        return 1;
      }
      primary.ready(this.#listening().flatMap((s) => s.addresses()));
      this.#enter('running');
      await this.#stop;
      const graceful = this.#stopping !== 'fast';
      this.#enter(graceful ? 'graceful-terminate' : 'fast-shutdown');
      await this.#stopServing(graceful, graceful ? (this.#workerTimeoutMs ?? gracefulShutdownTimeoutMs(this.conf)) : 0);
      registry.closeAll('handed-over');
      return 0;
    } catch (err) {
      primary.failed(errorMessage(err));
      return 1;
    } finally {
      primary.close();
      for (const signal of HANDLED_SIGNALS) process.off(signal, onSignal);
      clearInterval(keepAlive);
      this.#enter('shutdown');
    }
  }

  #listenContext(registry: ListenerRegistry): ListenContext {
    return {
      openListener: (cfg, onConnection, opts) => registry.open(cfg, onConnection, opts),
      channel: this.channel,
      logger: this.logger,
      workerId: this.#workerId,
    };
  }

  /** Names of the listening services that bind their own sockets (no `listenerConfigs`). */
  #selfBinding(): string[] {
    return this.#listening()
      .filter((s) => s.listenerConfigs === undefined)
      .map((s) => s.name);
  }

  #listening(): ListeningService[] {
    return this.#services.filter((s): s is ListeningService => s.kind === 'listening');
  }

  /** Listens on every listening service; returns the first failure's message, if any. */
  async #listenAll(ctx: ListenContext): Promise<string | undefined> {
    const services = this.#listening();
    const results = await Promise.allSettled(services.map((s) => s.listen(ctx)));
    let failure: string | undefined;
    results.forEach((result, i) => {
      const name = services[i]?.name ?? '?';
      if (result.status === 'rejected') {
        this.logger.error({ service: name, err: result.reason }, 'cannot listen');
        failure ??= `${name}: ${errorMessage(result.reason)}`;
      } else {
        this.logger.info({ service: name, addresses: services[i]?.addresses() ?? [], ...(this.#workerId > 0 ? { worker: this.#workerId } : {}) }, 'listening');
      }
    });
    return failure;
  }

  /** Startup failed: close whatever did start, tell whoever waits for us, exit code 1. */
  async #fail(message: string, parentWaits: boolean, received: ReceivedHandoff | undefined): Promise<number> {
    this.logger.error({ reason: message }, 'startup failed');
    await this.#stopServing(false, 0);
    this.#registry?.closeAll('startup-failed');
    if (received) await received.reply({ ok: false, message });
    if (parentWaits) await notifyDaemonParent({ type: 'error', message });
    return 1;
  }

  /** Stops the listening services here, or the workers (which stop theirs). */
  async #stopServing(graceful: boolean, timeoutMs: number): Promise<void> {
    if (this.#pool) {
      await this.#pool.shutdown(graceful, timeoutMs);
      return;
    }
    await Promise.all(
      this.#listening().map((s) => this.#bounded(Promise.resolve().then(() => s.shutdown({ graceful, timeoutMs })), timeoutMs + SHUTDOWN_SLACK_MS, s.name, 'shutdown')),
    );
  }

  /** A background service runs once; its failure is logged and never stops the server. */
  async #runBackground(service: BackgroundService, signal: AbortSignal, ctx: BackgroundContext): Promise<void> {
    try {
      await service.run(signal, ctx);
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
      this.#requestStop(graceful ? 'graceful' : 'fast');
    } else if (this.#phase !== 'running' || this.#upgrading) {
      this.logger.warn({ signal, phase: this.#phase }, this.#upgrading ? 'an upgrade is already in progress; ignored' : 'not serving yet; ignored');
    } else if (signal === 'SIGQUIT') {
      void this.#upgrade('SIGQUIT');
    } else {
      void this.#upgrade('SIGHUP');
    }
  }

  /**
   * SIGQUIT: hand the sockets to the process waiting on upgrade_sock (started with `-u`).
   * SIGHUP: re-read the conf; if valid, start the next generation ourselves and hand them to it.
   * Either way, nothing changes for clients unless the new process reports it serves.
   */
  async #upgrade(signal: 'SIGQUIT' | 'SIGHUP'): Promise<void> {
    const registry = this.#registry;
    if (!registry) return;
    const selfBinding = this.#selfBinding();
    if (selfBinding.length > 0) {
      // Their sockets are not core's to hand over: a new process would have to bind them anew.
      this.logger.error({ signal, services: selfBinding }, 'cannot upgrade without downtime: these services bind their own sockets (no listenerConfigs); still serving');
      return;
    }
    this.#upgrading = true;
    try {
      if (signal === 'SIGHUP') {
        this.#reloadTls(registry);
        const problem = this.#checkNewConf();
        if (problem !== undefined) {
          this.logger.error({ signal, reason: problem }, 'the conf file is invalid; still serving with the old one');
          return;
        }
      }
      const sockets = registry.sockets();
      this.logger.info({ signal, sockets: sockets.map((s) => s.addr) }, signal === 'SIGQUIT' ? `handing the listening sockets to the new process on ${this.conf.upgrade_sock}` : 'starting the next generation');
      const reply = await handOverListeners(signal, {
        sockets,
        ticketKeys: registry.ticketKeys,
        upgradeSock: this.conf.upgrade_sock,
        daemon: this.#daemonChild,
        errorLog: this.conf.error_log,
        logger: this.logger,
      });
      if (!reply.ok) {
        this.logger.error({ signal, reason: reply.message }, 'the new process failed to start; still serving');
        return;
      }
      this.logger.info({ signal, pid: reply.pid, gracePeriodMs: this.#gracePeriodMs() }, 'the new process serves; draining and exiting');
      this.#requestStop('upgrade');
    } catch (err) {
      this.logger.error({ signal, reason: errorMessage(err) }, 'upgrade failed; still serving');
    } finally {
      this.#upgrading = false;
    }
  }

  /** The conf file as it is now, checked like `-t` does; the problem in one line, if any. */
  #checkNewConf(): string | undefined {
    if (this.confFile === undefined) return undefined;
    try {
      const conf = parseConf(readConfText(this.confFile, this.#schema), this.confFile, this.#schema);
      this.#validate?.(conf, this.confFile);
      return undefined;
    } catch (err) {
      return errorMessage(err);
    }
  }

  #reloadTls(registry: ListenerRegistry): void {
    if (this.#pool) this.#pool.broadcast({ pingora: 'reload-tls' });
    else registry.reloadTls();
  }

  /** How long an old process drains after an upgrade: grace_period_seconds, else the shutdown timeout. */
  #gracePeriodMs(): number {
    const seconds = this.conf.grace_period_seconds;
    return seconds === undefined ? gracefulShutdownTimeoutMs(this.conf) : seconds * 1000;
  }

  #enter(phase: ServerPhase): void {
    this.#phase = phase;
    this.emit('phase', phase);
  }
}

/** The conf file's text; an unreadable file throws the same ConfError `loadConfFile` does. */
function readConfText<C>(file: string, schema: z.ZodType<C>): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    loadConfFile(file, schema);
    throw new Error(`cannot read ${file}`);
  }
}

function exitWith(code: number, stream: NodeJS.WriteStream, text: string): never {
  stream.write(text);
  return process.exit(code);
}
