import type { Duplex } from 'node:stream';
import { errors, util, type Dispatcher } from 'undici';

/** Response head or trailer fields as undici's client hands them over: name, value, name, value… */
export type RawHeaders = Buffer[] | string[] | null;

/**
 * The handler shape undici's `Client` calls (`onConnect`, `onHeaders`, `onData`, …): what
 * undici 6 takes, and what undici 7's dispatchers turn every handler into before a `Client`
 * runs it (its `DispatcherBase.dispatch` wraps a new-style handler in `UnwrapHandler`). The
 * `request`, `stream`, `pipeline` and `fetch` of undici 6 and 7 (and Node's own `fetch`) all
 * dispatch handlers of this shape, so `BalancedDispatcher` speaks it on both sides: it works
 * over the pools of either major.
 */
export interface LegacyHandler {
  onConnect?(abort: (err?: Error) => void, context?: unknown): void;
  onResponseStarted?(): void;
  onHeaders?(statusCode: number, rawHeaders: RawHeaders, resume: () => void, statusText: string): boolean;
  onData?(chunk: Buffer): boolean;
  onComplete?(trailers: RawHeaders): void;
  onUpgrade?(statusCode: number, rawHeaders: RawHeaders, socket: Duplex): void;
  onError(err: Error): void;
  onBodySent?(chunkSize: number, totalBytesSent: number): void;
  onRequestSent?(): void;
}

/**
 * `handler` as a `LegacyHandler`: itself when it already is one, else an adapter over an
 * undici 7 new-style handler (`onRequestStart`, `onResponseStart`, …, as the interceptors of
 * `compose()` pass). Throws undici's `InvalidArgumentError` when it can report no error,
 * as undici's dispatchers do.
 */
export function toLegacyHandler(handler: Dispatcher.DispatchHandler): LegacyHandler {
  if (handler === null || typeof handler !== 'object') throw new errors.InvalidArgumentError('handler must be an object');
  if (typeof handler.onRequestStart === 'function') {
    if (typeof handler.onResponseError !== 'function') throw new errors.InvalidArgumentError('invalid onResponseError method');
    return new NewStyleHandlerAdapter(handler);
  }
  if (typeof handler.onError !== 'function') throw new errors.InvalidArgumentError('invalid onError method');
  return handler as LegacyHandler;
}

/** The `DispatchController` a new-style handler steers one request with. */
class Controller implements Dispatcher.DispatchController {
  rawHeaders: RawHeaders = null;
  rawTrailers: RawHeaders = null;
  /** The `resume` of the last `onHeaders`: undici's way to restart a paused body. */
  resumeBody: (() => void) | null = null;
  private isPaused = false;
  private isAborted = false;
  private abortReason: Error | null = null;

  constructor(private readonly abortRequest: (err?: Error) => void) {}

  get aborted(): boolean {
    return this.isAborted;
  }
  get paused(): boolean {
    return this.isPaused;
  }
  get reason(): Error | null {
    return this.abortReason;
  }

  abort(reason: Error): void {
    if (this.isAborted) return;
    this.isAborted = true;
    this.abortReason = reason;
    this.abortRequest(reason);
  }

  pause(): void {
    this.isPaused = true;
  }

  resume(): void {
    if (!this.isPaused) return;
    this.isPaused = false;
    this.resumeBody?.();
  }
}

const NO_ABORT = (): void => {};

/** A new-style handler seen through the legacy callbacks (what undici 7's `UnwrapHandler` does). */
class NewStyleHandlerAdapter implements LegacyHandler {
  private controller: Controller | null = null;

  constructor(private readonly handler: Dispatcher.DispatchHandler) {}

  /** The request's controller; one is made on the spot when it failed before connecting. */
  private ctl(): Controller {
    return (this.controller ??= new Controller(NO_ABORT));
  }

  onConnect(abort: (err?: Error) => void, context?: unknown): void {
    this.controller = new Controller(abort);
    this.handler.onRequestStart?.(this.controller, context);
  }

  onResponseStarted(): void {
    this.handler.onResponseStarted?.();
  }

  onUpgrade(statusCode: number, rawHeaders: RawHeaders, socket: Duplex): void {
    const c = this.ctl();
    c.rawHeaders = rawHeaders;
    this.handler.onRequestUpgrade?.(c, statusCode, parse(rawHeaders), socket);
  }

  onHeaders(statusCode: number, rawHeaders: RawHeaders, resume: () => void, statusText: string): boolean {
    const c = this.ctl();
    c.resumeBody = resume;
    c.rawHeaders = rawHeaders;
    this.handler.onResponseStart?.(c, statusCode, parse(rawHeaders), statusText);
    return !c.paused;
  }

  onData(chunk: Buffer): boolean {
    const c = this.ctl();
    this.handler.onResponseData?.(c, chunk);
    return !c.paused;
  }

  onComplete(trailers: RawHeaders): void {
    const c = this.ctl();
    c.rawTrailers = trailers;
    this.handler.onResponseEnd?.(c, parse(trailers));
  }

  onError(err: Error): void {
    this.handler.onResponseError?.(this.ctl(), err);
  }
}

function parse(raw: RawHeaders): Record<string, string | string[]> {
  return raw ? util.parseHeaders(raw) : {};
}
