/**
 * `Server` in-process: phases in order, services started and stopped, background services
 * aborted, pid file written then removed, bind failures, failing background services.
 * (Real signals are in server-signals.test.ts, on a separate process.)
 */
import { existsSync, readFileSync } from 'node:fs';
import { createConnection, createServer, type AddressInfo, type Server as NetServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { z } from 'zod';
import {
  ConfError,
  Opt,
  Server,
  serverConfSchema,
  type BackgroundService,
  type BoundAddress,
  type ListeningService,
  type Logger,
  type ServerPhase,
  type ShutdownOptions,
} from '@pingora-ts/core';
import { cleanup, tempDir } from './helpers';

afterEach(cleanup);

/** A TCP service that records what the server asked of it. */
class TcpService implements ListeningService {
  readonly kind = 'listening' as const;
  readonly calls: string[] = [];
  readonly shutdowns: ShutdownOptions[] = [];
  readonly #server: NetServer = createServer((s) => this.#sockets.add(s));
  readonly #sockets = new Set<Socket>();
  constructor(
    readonly name: string,
    private readonly port = 0,
  ) {}
  listen(): Promise<void> {
    this.calls.push('listen');
    return new Promise((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(this.port, '127.0.0.1', () => resolve());
    });
  }
  addresses(): BoundAddress[] {
    const a = this.#server.address() as AddressInfo | null;
    return a ? [{ kind: 'tcp', host: a.address, port: a.port }] : [];
  }
  shutdown(opts: ShutdownOptions): Promise<void> {
    this.calls.push('shutdown');
    this.shutdowns.push(opts);
    for (const s of this.#sockets) s.destroy();
    return new Promise((resolve) => (this.#server.listening ? this.#server.close(() => resolve()) : resolve()));
  }
}

function recordingLogger(): Logger & { lines: Array<[string, object, string | undefined]> } {
  const lines: Array<[string, object, string | undefined]> = [];
  const at = (level: string) => (obj: object, msg?: string) => void lines.push([level, obj, msg]);
  return { lines, error: at('error'), warn: at('warn'), info: at('info'), debug: at('debug') };
}

function newServer(extra: Record<string, unknown> = {}): { server: Server; pidFile: string; logger: ReturnType<typeof recordingLogger> } {
  const pidFile = join(tempDir(), 'server.pid');
  const logger = recordingLogger();
  const server = new Server(null, { conf: { pid_file: pidFile, graceful_shutdown_timeout_seconds: 3, ...extra }, logger });
  return { server, pidFile, logger };
}

function phases(server: Server): ServerPhase[] {
  const seen: ServerPhase[] = [];
  server.on('phase', (p) => seen.push(p));
  return seen;
}

function untilPhase(server: Server, phase: ServerPhase): Promise<void> {
  return new Promise((resolve) => {
    const on = (p: ServerPhase): void => {
      if (p === phase) {
        server.off('phase', on);
        resolve();
      }
    };
    server.on('phase', on);
  });
}

test('run, then graceful shutdown: phases in order, services started and stopped, pid file written and removed', async () => {
  const { server, pidFile } = newServer();
  const seen = phases(server);
  const tcp = new TcpService('tcp');
  let aborted = false;
  const background: BackgroundService = {
    kind: 'background',
    name: 'bg',
    run: (signal) =>
      new Promise((resolve) =>
        signal.addEventListener('abort', () => {
          aborted = true;
          resolve();
        }),
      ),
  };
  server.addServices([tcp, background]);
  const signalsBefore = process.listenerCount('SIGTERM');
  const code = server.run();
  await untilPhase(server, 'running');
  expect(readFileSync(pidFile, 'utf8')).toBe(`${process.pid}\n`);
  expect(tcp.addresses()[0]).toMatchObject({ kind: 'tcp', host: '127.0.0.1' });
  expect(process.listenerCount('SIGTERM')).toBe(signalsBefore + 1);
  expect(server.run()).toBe(code); // idempotent
  await server.shutdown({ graceful: true });
  await expect(code).resolves.toBe(0);
  expect(seen).toEqual(['bootstrap', 'running', 'graceful-terminate', 'shutdown']);
  expect(tcp.calls).toEqual(['listen', 'shutdown']);
  expect(tcp.shutdowns).toEqual([{ graceful: true, timeoutMs: 3000 }]);
  expect(aborted).toBe(true);
  expect(existsSync(pidFile)).toBe(false);
  expect(process.listenerCount('SIGTERM')).toBe(signalsBefore);
  expect(server.phase).toBe('shutdown');
});

test('fast shutdown passes graceful: false and emits fast-shutdown', async () => {
  const { server } = newServer();
  const seen = phases(server);
  const tcp = new TcpService('tcp');
  server.addService(tcp);
  const code = server.run();
  await untilPhase(server, 'running');
  await server.shutdown({ graceful: false });
  await expect(code).resolves.toBe(0);
  expect(seen).toEqual(['bootstrap', 'running', 'fast-shutdown', 'shutdown']);
  expect(tcp.shutdowns).toEqual([{ graceful: false, timeoutMs: 0 }]);
});

test('the default graceful timeout is 5 s', async () => {
  const server = new Server(null, { conf: { pid_file: join(tempDir(), 'p') }, logger: recordingLogger() });
  const tcp = new TcpService('tcp');
  server.addService(tcp);
  const code = server.run();
  await untilPhase(server, 'running');
  await server.shutdown();
  await code;
  expect(tcp.shutdowns).toEqual([{ graceful: true, timeoutMs: 5000 }]);
});

test('a bind failure is logged, stops what started, writes no pid file and resolves 1', async () => {
  const busy = createServer();
  await new Promise<void>((r) => busy.listen(0, '127.0.0.1', r));
  const port = (busy.address() as AddressInfo).port;
  try {
    const { server, pidFile, logger } = newServer();
    const seen = phases(server);
    const ok = new TcpService('ok');
    const clash = new TcpService('clash', port);
    let started = false;
    server.addServices([ok, clash, { kind: 'background', name: 'bg', run: async () => void (started = true) }]);
    await expect(server.run()).resolves.toBe(1);
    expect(seen).toEqual(['bootstrap', 'shutdown']);
    expect(ok.calls).toEqual(['listen', 'shutdown']);
    expect(started).toBe(false);
    expect(existsSync(pidFile)).toBe(false);
    const error = logger.lines.find(([level]) => level === 'error');
    expect(error?.[2]).toBe('cannot listen');
    expect(error?.[1]).toMatchObject({ service: 'clash', err: expect.objectContaining({ code: 'EADDRINUSE' }) });
  } finally {
    busy.close();
  }
});

test('a background service that fails is logged; the server keeps running', async () => {
  const { server, logger } = newServer();
  server.addService({
    kind: 'background',
    name: 'flaky',
    run: async () => {
      throw new Error('boom');
    },
  });
  const code = server.run();
  await untilPhase(server, 'running');
  await new Promise((r) => setImmediate(r));
  expect(server.phase).toBe('running');
  expect(logger.lines).toContainEqual(['error', { service: 'flaky', err: expect.objectContaining({ message: 'boom' }) }, 'background service failed']);
  await server.shutdown();
  await expect(code).resolves.toBe(0);
});

test('a background service that ignores its signal does not hold the shutdown forever', async () => {
  const { server, logger } = newServer({ graceful_shutdown_timeout_seconds: 0 });
  server.addService({ kind: 'background', name: 'stuck', run: () => new Promise<void>(() => {}) });
  const code = server.run();
  await untilPhase(server, 'running');
  await server.shutdown();
  await expect(code).resolves.toBe(0);
  expect(logger.lines.some(([level, obj]) => level === 'warn' && (obj as { service?: string }).service === 'stuck')).toBe(true);
});

test('addService after run() throws; shutdown before run() makes run() stop at once', async () => {
  const { server } = newServer();
  void server.shutdown();
  const code = server.run();
  expect(() => server.addService(new TcpService('late'))).toThrow('already running');
  await expect(code).resolves.toBe(0);
});

test('conf: an object is validated and completed; a file is read from opt.conf; errors are ConfErrors', () => {
  const server = new Server(null, { conf: { threads: 3 }, logger: recordingLogger() });
  expect(server.conf).toMatchObject({ threads: 3, max_retries: 16, pid_file: '/tmp/pingora-ts.pid' });
  expect(() => new Server(null, { conf: { threads: 0 } })).toThrow(ConfError);
  expect(() => new Server(Opt.parse(['-c', join(tempDir(), 'missing.yaml')]))).toThrow(/missing\.yaml: cannot read the file/);
  expect(new Server().conf.threads).toBe(1);
});

test('an app schema types and validates the conf', () => {
  const schema = serverConfSchema.extend({ listen: z.string().default('127.0.0.1:6188') });
  const server = new Server(null, { schema, conf: { threads: 2 } });
  const listen: string = server.conf.listen; // typed by the app schema
  expect(listen).toBe('127.0.0.1:6188');
  expect(() => new Server(null, { schema, conf: { listn: 'x' } as never })).toThrow('<options.conf>: listn: unknown key (did you mean "listen"?)');
});

test('a fast shutdown during a graceful one asks the services to close now', async () => {
  const { server } = newServer();
  const seen = phases(server);
  const asked: ShutdownOptions[] = [];
  let finish = (): void => {};
  const drained = new Promise<void>((r) => (finish = r));
  server.addService({
    kind: 'listening',
    name: 'slow-drain',
    listen: async () => {},
    addresses: () => [],
    shutdown: (opts) => {
      asked.push(opts);
      if (!opts.graceful) finish(); // closing everything now ends the drain
      return drained;
    },
  });
  const code = server.run();
  await untilPhase(server, 'running');
  const graceful = server.shutdown({ graceful: true });
  await untilPhase(server, 'graceful-terminate');
  await server.shutdown({ graceful: false });
  await graceful;
  await expect(code).resolves.toBe(0);
  expect(asked).toEqual([
    { graceful: true, timeoutMs: 3000 },
    { graceful: false, timeoutMs: 0 },
  ]);
  expect(seen).toEqual(['bootstrap', 'running', 'graceful-terminate', 'shutdown']);
});

/** Runs `work` with stdout and stderr captured (what -h, -V and -t print). */
async function capturingOutput<T>(work: () => Promise<T>): Promise<{ result: T; out: string }> {
  let out = '';
  const capture = (chunk: string | Uint8Array): boolean => {
    out += String(chunk);
    return true;
  };
  const stdout = jest.spyOn(process.stdout, 'write').mockImplementation(capture);
  const stderr = jest.spyOn(process.stderr, 'write').mockImplementation(capture);
  try {
    return { result: await work(), out };
  } finally {
    stdout.mockRestore();
    stderr.mockRestore();
  }
}

test('-V, -t (good and bad conf): bootstrap() and run() return the exit code, start nothing, and never exit the process', async () => {
  const version = new Server(Opt.parse(['-V']), { conf: {}, program: 'prog', version: '1.2.3' });
  const v = await capturingOutput(() => version.bootstrap());
  expect(v.result).toEqual({ done: true, exitCode: 0, reason: 'version' });
  expect(v.out).toBe('prog 1.2.3\n');

  const validate = (conf: { threads: number }): void => {
    if (conf.threads > 2) throw ConfError.single('<options.conf>', ['threads'], 'too many');
  };
  const good = new Server(Opt.parse(['-t']), { conf: { threads: 2 }, validate });
  const tcp = new TcpService('tcp');
  good.addService(tcp);
  const seen = phases(good);
  const g = await capturingOutput(() => good.run());
  expect(g.result).toBe(0);
  expect(g.out).toBe('conf <options.conf> ok\n');
  expect(tcp.calls).toEqual([]);
  expect(seen).toEqual(['bootstrap']);

  const bad = new Server(Opt.parse(['-t']), { conf: { threads: 3 }, validate });
  const b = await capturingOutput(() => bad.runForever());
  expect(b.result).toBe(1);
  expect(b.out).toBe('<options.conf>: threads: too many\n');
  expect(await bad.bootstrap()).toEqual({ done: true, exitCode: 1, reason: 'test' });
  expect(process.exitCode).toBe(1);
  process.exitCode = undefined;
});

test('runForever() serves on a real socket, then resolves 0 after shutdown() and sets process.exitCode instead of exiting', async () => {
  const { server } = newServer();
  const tcp = new TcpService('tcp');
  server.addService(tcp);
  expect(await server.bootstrap()).toEqual({ done: false });
  const forever = server.runForever();
  await untilPhase(server, 'running');
  const port = (tcp.addresses()[0] as { port: number }).port;
  await new Promise<void>((resolve, reject) => {
    const client = createConnection(port, '127.0.0.1', () => {
      client.destroy();
      resolve();
    });
    client.once('error', reject);
  });
  await server.shutdown();
  await expect(forever).resolves.toBe(0);
  expect(process.exitCode).toBe(0);
  process.exitCode = undefined;
});

test('work_stealing set in the conf: one info line at startup that it has no effect; not set: nothing', async () => {
  const set = newServer({ work_stealing: false });
  const running = set.server.run();
  await untilPhase(set.server, 'running');
  await set.server.shutdown();
  await running;
  const lines = set.logger.lines.filter(([, , msg]) => msg?.startsWith('work_stealing has no effect in Node.js'));
  expect(lines).toEqual([['info', { work_stealing: false }, expect.stringContaining('there is no work-stealing scheduler') as string]]);

  const unset = newServer();
  const again = unset.server.run();
  await untilPhase(unset.server, 'running');
  await unset.server.shutdown();
  await again;
  expect(unset.logger.lines.some(([, , msg]) => msg?.includes('work_stealing'))).toBe(false);
});
