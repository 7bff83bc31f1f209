/** The signals a serving process handles (instead of their default action, which kills). */
export const HANDLED_SIGNALS = ['SIGTERM', 'SIGINT', 'SIGQUIT', 'SIGHUP'] as const;
export type HandledSignal = (typeof HANDLED_SIGNALS)[number];

/**
 * Holds the process while it serves: keeps the event loop open even when no service holds
 * it, and routes the handled signals to `onSignal`. Returns the release, which undoes both.
 */
export function holdProcess(onSignal: (signal: HandledSignal) => void): () => void {
  const keepAlive = setInterval(() => {}, 2 ** 31 - 1);
  for (const signal of HANDLED_SIGNALS) process.on(signal, onSignal);
  return () => {
    for (const signal of HANDLED_SIGNALS) process.off(signal, onSignal);
    clearInterval(keepAlive);
  };
}
