/**
 * The first message a child of ours (a worker, a SIGHUP's new generation) waits for from the
 * process that started it, over the IPC channel.
 */

/** How long a worker or a SIGHUP's new generation waits for its first IPC message. */
export const FIRST_MESSAGE_TIMEOUT_MS = 15_000;

/**
 * Says hello to the parent and resolves the first IPC message `accept` takes; rejects after
 * `ms`. The parent sends only after the hello: a message that arrived before anyone listened
 * would be lost.
 */
export function waitForParentMessage<T>(accept: (m: unknown) => m is T, ms: number, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    if (!process.send) {
      reject(new Error(`${what} (no IPC channel)`));
      return;
    }
    const timer = setTimeout(() => {
      process.off('message', onMessage);
      reject(new Error(`${what} within ${ms / 1000} s`));
    }, ms);
    const onMessage = (m: unknown): void => {
      if (!accept(m)) return;
      clearTimeout(timer);
      process.off('message', onMessage);
      resolve(m);
    };
    process.on('message', onMessage);
    process.send({ pingora: 'hello' });
  });
}
