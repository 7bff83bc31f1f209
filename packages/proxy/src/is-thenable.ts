/**
 * The one rule by which every hook's result is told apart: a thenable (a promise, or any
 * object with a `then` method, as `await` itself decides) suspends the request until it
 * settles; anything else continues it in the same call.
 */
export function isThenable<T>(r: T | PromiseLike<T>): r is PromiseLike<T> {
  return typeof r === 'object' && r !== null && typeof (r as { then?: unknown }).then === 'function';
}
