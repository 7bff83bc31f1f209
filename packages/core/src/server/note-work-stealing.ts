/**
 * `work_stealing` is Pingora's (tokio's) scheduler switch. The conf accepts it so a Pingora
 * conf.yaml loads unchanged, but Node has no such scheduler: when a conf sets it, say so
 * once at startup rather than let the operator believe it did something.
 */
import { parse } from 'yaml';
import type { Logger } from '../logger';

/** True when the conf as written (an object, or the YAML text) sets `work_stealing` at the top level. */
export function setsWorkStealing(conf: unknown): boolean {
  let data = conf;
  if (typeof conf === 'string') {
    try {
      data = parse(conf) as unknown;
    } catch {
      return false; // the conf was validated already; unreachable in practice
    }
  }
  return typeof data === 'object' && data !== null && (data as { work_stealing?: unknown }).work_stealing !== undefined;
}

/** Logs the one line, when the conf set the key. */
export function noteWorkStealing(conf: unknown, value: boolean, logger: Logger): void {
  if (!setsWorkStealing(conf)) return;
  logger.info({ work_stealing: value }, 'work_stealing has no effect in Node.js: there is no work-stealing scheduler; use threads for more processes');
}
