import { ProxyError } from '@pingora-ts/core';
import type { Dispatcher } from 'undici';
import type { Backend } from '../backend';
import type { LoadBalancer } from '../load-balancer';
import type { SelectionKey } from '../selection/selection-algorithm';
import type { RetryRule } from './attempt-failure';
import { BackendAttempt, type AttemptOwner } from './backend-attempt';
import type { LegacyHandler } from './legacy-handler';
import { canResend, isIdempotent } from './request-body';

/** What a `BalancedRequest` needs from the dispatcher that made it. */
export interface RequestHost {
  readonly loadBalancer: LoadBalancer;
  readonly maxIterations: number;
  /** Attempts after the first. */
  readonly retries: number;
  /** Destroyed: in-flight requests fail, nothing is retried. */
  readonly destroyed: boolean;
  /** The pool of `backend` for this scheme, made on first use. */
  poolFor(backend: Backend, https: boolean): Dispatcher;
  /** The request is over (its handler got its last event). Called once per request. */
  requestDone(): void;
}

/**
 * One request sent through a `BalancedDispatcher`: picks a backend, sends the request there
 * as a `BackendAttempt`, and on a failure the retry rules allow, tries the next backend the
 * load balancer offers that it has not tried yet.
 *
 * The caller's handler sees one request: `onConnect` once (with an abort that reaches
 * whichever attempt runs), then the response of the attempt that got one, or the error of
 * the last attempt.
 */
export class BalancedRequest implements AttemptOwner {
  callerAborted = false;
  private callerReason: Error | undefined = undefined;
  private current: BackendAttempt | null = null;
  /** Keys of the backends tried before the current attempt (made on the first retry). */
  private tried: string[] | null = null;
  private attemptsLeft: number;
  private userConnected = false;
  private responded = false;
  private done = false;
  private readonly https: boolean;
  private acceptUntried: ((b: Backend, healthy: boolean) => boolean) | null = null;

  constructor(
    private readonly host: RequestHost,
    private readonly opts: Dispatcher.DispatchOptions,
    readonly user: LegacyHandler,
    private readonly key: SelectionKey,
  ) {
    this.attemptsLeft = host.retries;
    this.https = isHttps(opts.origin);
    this.abortByCaller = this.abortByCaller.bind(this);
  }

  /** Sends the first attempt. Returns what the pool's `dispatch` returned (`false`: busy). */
  start(): boolean {
    let backend: Backend | null;
    try {
      backend = this.host.loadBalancer.select(this.key, this.host.maxIterations);
    } catch (err) {
      this.fail(err instanceof Error ? err : new Error(String(err)));
      return false;
    }
    if (backend === null) {
      this.fail(ProxyError.internal('NoHealthyUpstream', `BalancedDispatcher: no healthy backend for ${describe(this.opts)}`));
      return false;
    }
    return this.send(backend);
  }

  private send(backend: Backend): boolean {
    let pool: Dispatcher;
    try {
      pool = this.host.poolFor(backend, this.https);
    } catch (err) {
      // Invalid pool options: every backend would refuse them alike.
      this.fail(err instanceof Error ? err : new Error(String(err)));
      return false;
    }
    const attempt = new BackendAttempt(this, backend, this.host.loadBalancer);
    this.current = attempt;
    // The pool ignores `opts.origin` (its own origin is the backend's): path, query and
    // headers go as they are.
    return pool.dispatch(this.opts, attempt);
  }

  /** The abort the caller's `onConnect` receives: aborts the attempt running now, or the next one. */
  private abortByCaller(reason?: Error): void {
    if (this.callerAborted || this.done) return;
    this.callerAborted = true;
    this.callerReason = reason;
    const attempt = this.current;
    // Before its `onConnect` an attempt cannot be aborted: it is when it gets there.
    if (attempt?.connected) attempt.abort(reason);
  }

  attemptConnected(attempt: BackendAttempt): void {
    if (attempt !== this.current) return;
    if (this.callerAborted) {
      attempt.abort(this.callerReason);
      return;
    }
    if (!this.userConnected) {
      this.userConnected = true;
      this.user.onConnect?.(this.abortByCaller);
    }
  }

  responseStarted(): void {
    this.responded = true;
  }

  attemptSucceeded(): void {
    this.finish();
  }

  attemptFailed(attempt: BackendAttempt, err: Error, retry: RetryRule): void {
    if (attempt !== this.current || this.done) return;
    if (this.mayRetry(attempt, retry)) {
      const next = this.nextBackend(attempt.backend);
      if (next !== null) {
        this.attemptsLeft--;
        this.send(next);
        return;
      }
    }
    this.fail(err);
  }

  private mayRetry(attempt: BackendAttempt, retry: RetryRule): boolean {
    if (retry === 'never' || this.attemptsLeft <= 0 || this.responded || this.callerAborted || this.host.destroyed) return false;
    if (retry === 'unsent') return canResend(this.opts.body, attempt.connected);
    return isIdempotent(this.opts.method, this.opts.idempotent) && canResend(this.opts.body, true);
  }

  /** The next ready backend the algorithm offers for the key that no attempt has tried. */
  private nextBackend(failed: Backend): Backend | null {
    (this.tried ??= []).push(failed.key);
    const tried = this.tried;
    this.acceptUntried ??= (b, healthy) => healthy && !tried.includes(b.key);
    return this.host.loadBalancer.selectWith(this.key, this.host.maxIterations, this.acceptUntried);
  }

  private fail(err: Error): void {
    this.finish();
    this.user.onError(err);
  }

  private finish(): void {
    if (this.done) return;
    this.done = true;
    this.current = null;
    this.host.requestDone();
  }
}

function isHttps(origin: Dispatcher.DispatchOptions['origin']): boolean {
  if (origin === undefined || origin === null) return false;
  return typeof origin === 'string' ? origin.startsWith('https:') : origin.protocol === 'https:';
}

function describe(opts: Dispatcher.DispatchOptions): string {
  return `${opts.method} ${opts.path}`;
}
