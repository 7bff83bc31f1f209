import { Readable } from 'node:stream';

/** Methods RFC 9110 calls idempotent (§9.2.2): sending one twice has the effect of once. */
const IDEMPOTENT_METHODS = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'TRACE']);

/** Whether a request may be sent again: `idempotent` when given, else by its method. */
export function isIdempotent(method: string, idempotent: boolean | undefined): boolean {
  if (idempotent !== undefined) return idempotent;
  if (typeof method !== 'string') return false;
  return IDEMPOTENT_METHODS.has(method) || IDEMPOTENT_METHODS.has(method.toUpperCase());
}

/**
 * Whether `body` can be sent again on another backend. Bytes, strings, `Blob`s and
 * `FormData` are read afresh by each attempt. A Node stream can go again while nothing has
 * read it; any other stream or (async) iterable only when the failed attempt never started
 * writing (`written === false`), since nothing tells whether it was read.
 */
export function canResend(body: unknown, written: boolean): boolean {
  if (body === null || body === undefined || typeof body === 'string' || ArrayBuffer.isView(body) || body instanceof ArrayBuffer) {
    return true;
  }
  if (typeof body !== 'object') return false;
  if (isBlobLike(body) || isFormDataLike(body)) return true;
  if (body instanceof Readable) return !written && !body.destroyed && !Readable.isDisturbed(body);
  return !written;
}

function isBlobLike(body: object): boolean {
  const b = body as { stream?: unknown; arrayBuffer?: unknown };
  return typeof b.stream === 'function' && typeof b.arrayBuffer === 'function';
}

function isFormDataLike(body: object): boolean {
  return (body as { [Symbol.toStringTag]?: unknown })[Symbol.toStringTag] === 'FormData';
}
