import type { Duplex } from 'node:stream';
import type { Backend } from '../backend';
import type { RequestObserver, RequestOutcome } from '../load/request-observer';
import { classifyFailure, type RetryRule } from './attempt-failure';
import type { LegacyHandler, RawHeaders } from './legacy-handler';

/** What a `BackendAttempt` reports back to the request it belongs to. */
export interface AttemptOwner {
  /** The caller's handler, every event but errors and the first `onConnect` passed on as is. */
  readonly user: LegacyHandler;
  /** The caller aborted the request (its error is no fault of the backend). */
  readonly callerAborted: boolean;
  /** `onConnect`: the request is being written to `attempt`'s backend. */
  attemptConnected(attempt: BackendAttempt): void;
  /** The first response byte arrived (nothing can be retried from now on). */
  responseStarted(): void;
  /** The attempt ended with a response (complete or upgraded): the request is done. */
  attemptSucceeded(): void;
  /** The attempt failed with `err`; `retry` says whether another backend may be tried. */
  attemptFailed(attempt: BackendAttempt, err: Error, retry: RetryRule): void;
}

/**
 * One try of a request on one backend: the handler given to that backend's undici pool.
 * It reports `requestStarted` when made and exactly one `requestEnded` when the try ends
 * (response complete or upgraded, or error), with the latency to the response head (or to
 * the failure), and passes the response on to the caller's handler. A retry makes a new one,
 * so nothing of a failed try leaks into the next.
 */
export class BackendAttempt implements LegacyHandler {
  /** undici called `onConnect`: the request is being written, it may reach the backend. */
  connected = false;
  private abortFn: ((err?: Error) => void) | null = null;
  private readonly startedAt: number;
  private headMs = -1;
  private status = 0;
  private ended = false;

  constructor(
    private readonly owner: AttemptOwner,
    readonly backend: Backend,
    private readonly observer: RequestObserver,
  ) {
    observer.requestStarted(backend);
    this.startedAt = performance.now();
  }

  /** Aborts this try (undici's abort: the connection is destroyed); a no-op before `onConnect`. */
  abort(reason?: Error): void {
    this.abortFn?.(reason);
  }

  onConnect(abort: (err?: Error) => void): void {
    this.connected = true;
    this.abortFn = abort;
    this.owner.attemptConnected(this);
  }

  onResponseStarted(): void {
    this.owner.responseStarted();
    this.owner.user.onResponseStarted?.();
  }

  onHeaders(statusCode: number, rawHeaders: RawHeaders, resume: () => void, statusText: string): boolean {
    this.owner.responseStarted();
    // 1xx heads (100 Continue, 103 Early Hints) come before the real one.
    if (statusCode >= 200 && this.headMs < 0) {
      this.headMs = performance.now() - this.startedAt;
      this.status = statusCode;
    }
    return this.owner.user.onHeaders?.(statusCode, rawHeaders, resume, statusText) ?? true;
  }

  onData(chunk: Buffer): boolean {
    return this.owner.user.onData?.(chunk) ?? true;
  }

  onComplete(trailers: RawHeaders): void {
    this.end(this.status >= 500 && this.status <= 599 ? 'http_5xx' : 'ok');
    this.owner.attemptSucceeded();
    this.owner.user.onComplete?.(trailers);
  }

  onUpgrade(statusCode: number, rawHeaders: RawHeaders, socket: Duplex): void {
    this.owner.responseStarted();
    if (this.headMs < 0) this.headMs = performance.now() - this.startedAt;
    this.end('ok');
    this.owner.attemptSucceeded();
    this.owner.user.onUpgrade?.(statusCode, rawHeaders, socket);
  }

  onError(err: Error): void {
    const failure = classifyFailure(err, this.connected, this.status, this.owner.callerAborted);
    this.end(failure.outcome);
    this.owner.attemptFailed(this, err, failure.retry);
  }

  onBodySent(chunkSize: number, totalBytesSent: number): void {
    this.owner.user.onBodySent?.(chunkSize, totalBytesSent);
  }

  onRequestSent(): void {
    this.owner.user.onRequestSent?.();
  }

  /** Reports the end of this try, once; the latency runs to the response head if there was one. */
  private end(outcome: RequestOutcome): void {
    if (this.ended) return;
    this.ended = true;
    const latency = this.headMs >= 0 ? this.headMs : performance.now() - this.startedAt;
    this.observer.requestEnded(this.backend, outcome, latency);
  }
}
