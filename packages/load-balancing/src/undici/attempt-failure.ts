import type { RequestOutcome } from '../load/request-observer';

/**
 * When a failed attempt may be tried again on another backend:
 * `never`; `unsent` (nothing reached the backend: any method, if the body can be sent again);
 * `idempotent` (the request may have reached it: idempotent requests only, if the body can be
 * sent again).
 */
export type RetryRule = 'never' | 'unsent' | 'idempotent';

export interface AttemptFailure {
  /** How the attempt is reported to the load balancer. */
  readonly outcome: RequestOutcome;
  readonly retry: RetryRule;
}

/**
 * Errors about the request itself, or a client-side limit: the backend did nothing wrong and
 * another backend would fail the same way.
 */
const REQUEST_ERRORS = new Set([
  'UND_ERR_INVALID_ARG',
  'UND_ERR_INVALID_RETURN_VALUE',
  'UND_ERR_ABORT',
  'UND_ERR_ABORTED',
  'UND_ERR_REQ_CONTENT_LENGTH_MISMATCH',
  'UND_ERR_NOT_SUPPORTED',
  'UND_ERR_RES_EXCEEDED_MAX_SIZE',
]);
/** The pool was closed or destroyed (its backend was removed, or the dispatcher is closing). */
const POOL_GONE = new Set(['UND_ERR_CLOSED', 'UND_ERR_DESTROYED']);
const TIMEOUTS = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT']);

/**
 * What an error that ended one attempt means. `connected`: undici had started writing the
 * request on a connection (its `onConnect` ran); `status`: the final response status seen, or
 * 0; `callerAborted`: the caller aborted the request (whatever the error says, the backend did
 * nothing wrong). Connect failures (refused, connect timeout, DNS, TLS handshake) come before
 * `onConnect`.
 */
export function classifyFailure(err: Error, connected: boolean, status: number, callerAborted: boolean): AttemptFailure {
  const code = (err as { code?: unknown }).code;
  const neutral: RequestOutcome = status >= 500 && status <= 599 ? 'http_5xx' : 'ok';
  if (callerAborted) return { outcome: neutral, retry: 'never' };
  if (typeof code === 'string') {
    if (REQUEST_ERRORS.has(code)) return { outcome: neutral, retry: 'never' };
    if (POOL_GONE.has(code)) return { outcome: neutral, retry: connected ? 'never' : 'unsent' };
    if (TIMEOUTS.has(code)) return { outcome: 'timeout', retry: 'never' };
  }
  if (!connected) return CONNECT_ERROR;
  return status > 0 ? RESET_AFTER_HEAD : RESET;
}

const CONNECT_ERROR: AttemptFailure = { outcome: 'connect_error', retry: 'unsent' };
const RESET: AttemptFailure = { outcome: 'reset', retry: 'idempotent' };
const RESET_AFTER_HEAD: AttemptFailure = { outcome: 'reset', retry: 'never' };
