import type { Logger } from '../logger';

/**
 * Awaits `work` for at most `ms`, logging a failure or a timeout instead of throwing: one
 * service that never finishes its shutdown must not keep the others (or the exit) waiting.
 */
export async function bounded(work: Promise<void>, ms: number, logger: Logger, service: string, what: string): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(resolve, ms, 'timeout');
  });
  try {
    if ((await Promise.race([work, timedOut])) === 'timeout') logger.warn({ service, timeoutMs: ms }, `${what} did not finish in time; moving on`);
  } catch (err) {
    logger.error({ service, err }, `${what} failed`);
  } finally {
    clearTimeout(timer);
  }
}
