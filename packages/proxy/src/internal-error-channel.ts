/**
 * The `pingora-ts:proxy:internal-error` diagnostics channel: one message per request that
 * failed inside the proxy rather than at either end: a hook that threw or rejected, a
 * `failToProxy` or `logging` hook that threw, or a bug in the request's task. Error reporting
 * (Sentry, in `@pingora-ts/observability/sentry`) subscribes to it by name, so the proxy
 * depends on no reporting library. Nothing is built when nobody subscribes.
 */
import { channel } from 'node:diagnostics_channel';
import type { Session } from './session';

export const INTERNAL_ERROR_CHANNEL = 'pingora-ts:proxy:internal-error';

/** Where the request failed: `request` (a hook before `failToProxy`, or an internal error), the two last hooks, or the task itself. */
export type InternalErrorPhase = 'request' | 'failToProxy' | 'logging' | 'task';

/** The message on `pingora-ts:proxy:internal-error`. */
export interface ProxyInternalErrorMessage {
  /** The service name given to `HttpProxy`. */
  service: string;
  phase: InternalErrorPhase;
  /** What was thrown (for `request`: the cause the `ProxyError` wraps, else that `ProxyError`). */
  error: unknown;
  /** The request: method, path, headers (read them only while handling the message). */
  session: Session;
}

const internalErrorChannel = channel(INTERNAL_ERROR_CHANNEL);

/**
 * Publishes an internal failure if anyone listens. (A subscriber must not throw: Node
 * rethrows its error as an uncaught exception on the next tick.)
 */
export function publishInternalError(service: string, phase: InternalErrorPhase, error: unknown, session: Session): void {
  if (!internalErrorChannel.hasSubscribers) return;
  const message: ProxyInternalErrorMessage = { service, phase, error, session };
  internalErrorChannel.publish(message);
}
