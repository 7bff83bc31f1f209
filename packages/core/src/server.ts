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
 * This file decides what happens when; the mechanics live next to it: `server/` (a run per
 * role, the services, the stop request, the process error policy), `workers/` and `upgrade/`.
 */
import { EventEmitter } from 'node:events';
import { basename } from 'node:path';
import type { z } from 'zod';
import { daemonize, isDaemonChild } from './daemon';
import type { HandledSignal } from './internal/hold-process';
import { CONF_TEXT_ENV, HANDOFF_ENV, WORKER_ENV, closeStrayFds, takeEnv } from './internal/process-role';
import { readConfText } from './internal/read-conf-text';
import type { ListenerRegistry } from './listeners/listener-registry';
import { parseConf, validateConf } from './load-conf';
import type { Logger } from './logger';
import { Opt } from './opt';
import { answerCommandLine } from './server/answer-command-line';
import { noteWorkStealing } from './server/note-work-stealing';
import { installProcessErrorPolicy } from './server/process-error-policy';
import type { RoleContext } from './server/role-context';
import { runMainProcess } from './server/run-main-process';
import { ServiceRunner } from './server/service-runner';
import { StopRequest, type StopReason } from './server/stop-request';
import { gracefulShutdownTimeoutMs, serverConfSchema, type ServerConf } from './server-conf';
import type { BootstrapResult, ServerEvents, ServerOptions, ServerPhase, ServerRole } from './server-options';
import type { BoundAddress, ListenContext, Service } from './service';
import { StateChannel } from './state-channel';
import { createStderrLogger } from './stderr-logger';
import { checkConfFile } from './upgrade/check-conf-file';
import { upgradeOnSignal } from './upgrade/upgrade-on-signal';
import { runWorker } from './workers/run-worker';
import type { WorkerPool } from './workers/worker-pool';

export type { BootstrapResult, ConfInput, ServerEvents, ServerOptions, ServerPhase, ServerRole, WorkerExit } from './server-options';

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
  /** The conf as written (object or text), for the keys that matter only when set. */
  readonly #confWritten: unknown;
  readonly #role: ServerRole;
  readonly #workerId: number;
  /** Started by a SIGHUP of an old generation: the sockets come over IPC. */
  readonly #handoffChild: boolean;
  readonly #services: Service[] = [];
  readonly #runner = new ServiceRunner(this.#services, () => this.logger);
  readonly #stop = new StopRequest();
  #phase: ServerPhase | undefined;
  #bootstrap: Promise<BootstrapResult> | undefined;
  #run: Promise<number> | undefined;
  #daemonChild = false;
  #registry: ListenerRegistry | undefined;
  #pool: WorkerPool | undefined;
  /** A handoff to a new process is in progress. */
  #upgrading = false;

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
    this.#confWritten = options.conf ?? this.#confText;
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
   * Acts on the command line before anything starts. Idempotent; `run()` calls it too. Never
   * exits the process: when this process is done, it says so with the code to exit with.
   * - `-h`/`-V`: prints usage/version; done, 0.
   * - `-t`: runs `options.validate`, prints `conf <file> ok` (done, 0) or the one-line
   *   ConfError (done, 1). A conf the schema rejects already threw in the constructor.
   * - `-d`/`daemon: true`: starts the daemon child (see `daemon.ts`); done, 0 once it listens, 1 if it fails.
   * - `-u` is acted on by `run()`: it takes the sockets over from the old process.
   */
  bootstrap(): Promise<BootstrapResult> {
    this.#bootstrap ??= this.#bootstrapOnce();
    return this.#bootstrap;
  }

  async #bootstrapOnce(): Promise<BootstrapResult> {
    this.#enter('bootstrap');
    const answer = answerCommandLine(this.opt, { program: this.#program, version: this.#version, confLabel: this.#confLabel, validate: () => this.#validate?.(this.conf, this.#confLabel) });
    if (answer) return { done: true, ...answer };
    if (this.#role === 'worker') return { done: false };
    if (isDaemonChild()) this.#daemonChild = true;
    else if (this.opt.daemon || this.conf.daemon) return { done: true, exitCode: await daemonize(), reason: 'daemon-parent' };
    return { done: false };
  }

  /**
   * Bootstraps, starts every service and serves until a signal or `shutdown()`. Resolves
   * the exit code: 0 after a shutdown or an upgrade, 1 when startup failed or an uncaught
   * exception stopped the server; when `bootstrap()` was done, its code (nothing started).
   * Idempotent (one run per server). Never exits the process.
   */
  run(): Promise<number> {
    this.#run ??= this.#runOnce();
    return this.#run;
  }

  /**
   * `run()`, then sets `process.exitCode` to its code: a program whose last step is
   * `await server.runForever()` ends with that code once nothing else holds it open.
   * Resolves the code too, for programs that exit themselves (`process.exit(code)`).
   */
  async runForever(): Promise<number> {
    const code = await this.run();
    process.exitCode = code;
    return code;
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
    const escalated = this.#stop.request(reason);
    if (escalated && (this.#phase === 'graceful-terminate' || this.#phase === 'graceful-upgrade')) void this.#stopServing(false, 0);
  }

  async #runOnce(): Promise<number> {
    const boot = await this.bootstrap();
    if (boot.done) return boot.exitCode;
    if (this.#role !== 'worker') noteWorkStealing(this.#confWritten, this.conf.work_stealing, this.logger);
    let crashed = false;
    const release = installProcessErrorPolicy({
      logger: () => this.logger,
      onUncaughtException: () => {
        crashed = true;
        this.#requestStop('graceful');
      },
    });
    try {
      const code = await this.#runRole();
      return crashed ? 1 : code;
    } finally {
      release();
    }
  }

  #runRole(): Promise<number> {
    const ctx = this.#roleContext();
    if (this.#role === 'worker') return runWorker({ ...ctx, workerId: this.#workerId });
    return runMainProcess({
      ...ctx,
      role: this.#role,
      upgrade: this.opt.upgrade,
      handoffChild: this.#handoffChild,
      daemonChild: this.#daemonChild,
      confText: this.#confText,
      gracePeriodMs: () => this.#gracePeriodMs(),
      onSignal: (signal) => this.#onSignal(signal),
      onPool: (pool) => (this.#pool = pool),
      onWorkerExit: (exit) => this.emit('worker-exit', exit),
      stopServing: (graceful, timeoutMs) => this.#stopServing(graceful, timeoutMs),
    });
  }

  #roleContext(): RoleContext {
    return {
      conf: this.conf,
      logger: this.logger,
      channel: this.channel,
      services: this.#runner,
      stop: this.#stop,
      requestStop: (reason) => this.#requestStop(reason),
      enter: (phase) => this.#enter(phase),
      onRegistry: (registry) => (this.#registry = registry),
      listenContext: (registry) => this.#listenContext(registry),
    };
  }

  #listenContext(registry: ListenerRegistry): ListenContext {
    return {
      openListener: (cfg, onConnection, opts) => registry.open(cfg, onConnection, opts),
      channel: this.channel,
      logger: this.logger,
      workerId: this.#workerId,
    };
  }

  /** Stops the listening services here, or the workers (which stop theirs). */
  async #stopServing(graceful: boolean, timeoutMs: number): Promise<void> {
    if (this.#pool) await this.#pool.shutdown(graceful, timeoutMs);
    else await this.#runner.shutdownListening(graceful, timeoutMs);
  }

  #onSignal(signal: HandledSignal): void {
    if (signal === 'SIGTERM' || signal === 'SIGINT') {
      const graceful = signal === 'SIGTERM';
      this.logger.info({ signal }, graceful ? 'graceful shutdown' : 'fast shutdown');
      this.#requestStop(graceful ? 'graceful' : 'fast');
    } else if (this.#phase !== 'running' || this.#upgrading) {
      this.logger.warn({ signal, phase: this.#phase }, this.#upgrading ? 'an upgrade is already in progress; ignored' : 'not serving yet; ignored');
    } else {
      void this.#upgrade(signal);
    }
  }

  /** SIGQUIT / SIGHUP while running: see `upgradeOnSignal`; once the new process serves, drain and stop. */
  async #upgrade(signal: 'SIGQUIT' | 'SIGHUP'): Promise<void> {
    const registry = this.#registry;
    if (!registry) return;
    this.#upgrading = true;
    try {
      const handedOver = await upgradeOnSignal(signal, {
        registry,
        selfBinding: this.#runner.selfBinding(),
        upgradeSock: this.conf.upgrade_sock,
        daemon: this.#daemonChild,
        errorLog: this.conf.error_log,
        logger: this.logger,
        gracePeriodMs: this.#gracePeriodMs(),
        reloadTls: () => (this.#pool ? this.#pool.broadcast({ pingora: 'reload-tls' }) : registry.reloadTls()),
        checkConf: () => (this.confFile === undefined ? undefined : checkConfFile(this.confFile, this.#schema, this.#validate)),
        carried: () => this.channel.carried(),
      });
      if (handedOver) this.#requestStop('upgrade');
    } finally {
      this.#upgrading = false;
    }
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
