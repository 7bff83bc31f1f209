/**
 * `@pingora-ts/core/internal`: what pingora-ts packages share with each other and nobody else.
 * For pingora-ts packages only: no semver promise, anything here may change in any release.
 *
 * Mostly Node internals (see docs/node-internals.md): each sits in one module under
 * `internal/node/`, is checked once when that module loads, and has a fallback or a one-line
 * startup error naming the Node.js version. Exports are the functions themselves (no wrappers):
 * they run on the hot path, once per read.
 */
export {
  llhttp,
  llhttpUnavailable,
  READ_BODY,
  NO_BODY,
  PAUSE,
  RequestParserPool,
  type Llhttp,
  type ParseFailure,
  type RequestParser,
  type RequestParserHandler,
} from './internal/node/llhttp';
export { readInto, readIntoUnavailable, type NextBuffer, type ReadCallback, type ReadIntoOptions } from './internal/node/read-into';
export { sharedReads, OWN_READ_MIN, type SharedReader, type SharedReadOptions } from './internal/node/shared-reads';
export {
  createServerHandleUnavailable,
  requireServerHandles,
  bindTcpHandle,
  bindUnixHandle,
  adoptHandle,
  type RawServerHandle,
} from './internal/node/node-handles';
export { nodeInternals, type NodeInternal, type NodeInternalName } from './internal/node/node-internals';
