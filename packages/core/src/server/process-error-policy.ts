/**
 * What a running `Server` does with errors nobody caught (see docs/process-errors.md).
 *
 * Pingora catches a panic at the request's task, so one bad request fails alone. In Node a
 * throw from a callback nobody owns (a timer, an emitter) reaches `uncaughtException`
 * instead, and its state is unknown from then on: log it with its stack, then stop
 * gracefully and end with code 1, so requests in flight finish and a supervisor (or the
 * primary, for a worker) starts a fresh process. A rejected promise nobody awaited is a bug
 * that broke only its own work: log it with its stack and keep serving.
 */
import type { Logger } from '../logger';

export interface ProcessErrorPolicyOptions {
  /** Read at each error: the app may swap the server's logger. */
  logger(): Logger;
  /** An uncaught exception: start the graceful shutdown; the run ends with code 1. */
  onUncaughtException(): void;
}

function stackOf(err: unknown): string | undefined {
  const stack = typeof err === 'object' && err !== null ? (err as { stack?: unknown }).stack : undefined;
  return typeof stack === 'string' ? stack : undefined;
}

/** Installs the two handlers for the length of a run; returns their removal. */
export function installProcessErrorPolicy(o: ProcessErrorPolicyOptions): () => void {
  const onException = (err: unknown, origin: string): void => {
    o.logger().error({ err, stack: stackOf(err), origin, pid: process.pid }, 'uncaught exception; shutting down gracefully (exit code 1)');
    o.onUncaughtException();
  };
  const onRejection = (reason: unknown): void => {
    o.logger().error({ err: reason, stack: stackOf(reason), pid: process.pid }, 'unhandled promise rejection; still serving');
  };
  process.on('uncaughtException', onException);
  process.on('unhandledRejection', onRejection);
  return () => {
    process.off('uncaughtException', onException);
    process.off('unhandledRejection', onRejection);
  };
}
