/**
 * The message of anything thrown. Duck-typed rather than `instanceof Error`, because errors
 * may come from another realm (vm contexts, test runners) where `instanceof` is false.
 */
export function errorMessage(err: unknown): string {
  if (typeof err === 'object' && err !== null && typeof (err as { message?: unknown }).message === 'string') {
    return (err as { message: string }).message;
  }
  return String(err);
}

/** The `name` of a thrown error (`AbortError`, ...), or `undefined`. */
export function errorName(err: unknown): string | undefined {
  const name = typeof err === 'object' && err !== null ? (err as { name?: unknown }).name : undefined;
  return typeof name === 'string' ? name : undefined;
}
