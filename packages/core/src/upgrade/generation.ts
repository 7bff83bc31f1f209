/**
 * The one-step upgrade (SIGHUP): the old process starts the next generation itself, as a
 * child of its own that inherits every listening socket (descriptors 4, 5, ...), and waits
 * for it to report it serves. The child runs the program from disk again, so it brings both
 * the new code and the new conf. The child is detached (its own session) so it outlives us.
 *
 * ```
 * old: SIGHUP -> conf ok? --no--> log, keep serving
 *        | yes
 *        spawn self (HANDOFF_ENV=1, fds 4..) --IPC: {pingora:'handoff', header, fds}--> new
 *        <--IPC: {type:'ready', pid} (or 'error', or exit) ------------------------------ new serves
 *        drain (grace_period_seconds), exit; the pid file now names the new process
 * ```
 */
import type { IOType } from 'node:child_process';
import { DAEMON_CHILD_ENV, type DaemonMessage } from '../daemon';
import { FIRST_PASSED_FD, spawnSelf } from '../internal/spawn-self';
import { HANDOFF_ENV } from '../internal/process-role';
import type { BoundSocket } from '../listeners/bound-socket';
import { dropExtraAcceptHandles } from '../listeners/listener';
import { HANDOFF_READY_TIMEOUT_MS } from './upgrade-socket';
import type { JsonValue } from '../state-channel';
import { handoffHeader, type HandoffReply, type IpcHandoff } from './handoff';

export interface SpawnGenerationOptions {
  sockets: readonly BoundSocket[];
  ticketKeys: Buffer;
  /** `StateChannel.carry` values for the new generation. */
  carried?: Record<string, JsonValue>;
  /** The old process is a daemon: the new one is one too (stderr to error_log once ready). */
  daemon: boolean;
  stdout: IOType | number;
  stderr: IOType | number;
  readyTimeoutMs?: number;
}

/** Starts the next generation and resolves how it went; never rejects. */
export function spawnGeneration(opts: SpawnGenerationOptions): Promise<HandoffReply> {
  const fds = opts.sockets.map((s) => s.fd);
  const env: Record<string, string> = { [HANDOFF_ENV]: '1' };
  if (opts.daemon) env[DAEMON_CHILD_ENV] = '1';
  // From here this process accepts on one handle per listener (the rest would be inherited).
  dropExtraAcceptHandles();
  const child = spawnSelf({ fds, env, stdout: opts.stdout, stderr: opts.stderr, detached: true });
  const message: IpcHandoff = { pingora: 'handoff', header: handoffHeader(opts.sockets, opts.ticketKeys, opts.carried), fds: fds.map((_, i) => FIRST_PASSED_FD + i) };
  return new Promise<HandoffReply>((resolve) => {
    let settled = false;
    const finish = (reply: HandoffReply): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (reply.ok) child.unref();
      else if (child.exitCode === null) child.kill('SIGKILL');
      if (child.connected) child.disconnect();
      resolve(reply);
    };
    const timeoutMs = opts.readyTimeoutMs ?? HANDOFF_READY_TIMEOUT_MS;
    const timer = setTimeout(() => finish({ ok: false, message: `the new generation was not ready within ${timeoutMs / 1000} s` }), timeoutMs);
    child.on('message', (m: DaemonMessage | { pingora?: string }) => {
      // It says hello once it listens for messages; sent earlier, the handoff could be lost.
      if ('pingora' in m && m.pingora === 'hello') child.send(message);
      else if ('type' in m && m.type === 'ready') finish({ ok: true, pid: m.pid });
      else if ('type' in m && m.type === 'error') finish({ ok: false, message: m.message });
    });
    child.on('error', (err) => finish({ ok: false, message: `cannot start the new generation: ${err.message}` }));
    child.on('exit', (code, signal) => finish({ ok: false, message: `the new generation exited before it was ready (${signal ?? `code ${code}`})` }));
  });
}
