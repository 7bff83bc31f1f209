/** Anything with a `reopen()`: `AccessLogger`, an `ErrorLogger`, a `LogDestination`. */
export interface Reopenable {
  reopen(): void;
}

/** Where reopening is reported (core's `Logger` and pino fit). */
interface ReopenLog {
  info(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export interface ReopenOnSignalOptions {
  /** Default `SIGUSR1`, logrotate's and nginx's convention. */
  signal?: NodeJS.Signals;
  /** Told of each reopening and of a file that could not be reopened. */
  logger?: ReopenLog;
  /** Runs after each reopening (e.g. to tell worker processes to reopen theirs). */
  onReopen?(): void;
}

/**
 * Reopens each target in turn; one that fails is logged and keeps its old file, the others
 * go on. Returns how many failed.
 */
export function reopenLogs(targets: readonly Reopenable[], logger?: ReopenLog): number {
  let failed = 0;
  for (const t of targets) {
    try {
      t.reopen();
    } catch (err) {
      failed++;
      logger?.error({ err }, 'cannot reopen a log file; still writing to the old one');
    }
  }
  logger?.info({ failed }, 'log files reopened');
  return failed;
}

/**
 * Reopens `targets` on `signal` (SIGUSR1). Taking the signal also replaces Node's default
 * action for SIGUSR1 (starting the inspector). Returns the removal of the handler.
 */
export function reopenOnSignal(targets: readonly Reopenable[], opts: ReopenOnSignalOptions = {}): () => void {
  const signal = opts.signal ?? 'SIGUSR1';
  const onSignal = (): void => {
    reopenLogs(targets, opts.logger);
    opts.onReopen?.();
  };
  process.on(signal, onSignal);
  return () => {
    process.off(signal, onSignal);
  };
}
