/**
 * The table of every Node internal pingora-ts reaches, each checked once when its module
 * loaded: what is used, where, whether it is there on this Node.js, and what runs without it.
 * `docs/node-internals.md` shows the same table; a test keeps the two in step.
 */
import { llhttpUnavailable } from './llhttp';
import { createServerHandleUnavailable } from './node-handles';
import { readIntoUnavailable } from './read-into';

/** The name of each internal, as the docs table spells it. */
export type NodeInternalName = 'llhttp' | 'readInto' | 'createServerHandle';

export interface NodeInternal {
  readonly name: NodeInternalName;
  /** The Node internal itself. */
  readonly internal: string;
  /** The module that touches it, under `packages/core/src/`. */
  readonly module: string;
  readonly available: boolean;
  /** Why it cannot be used here (the load-time check's result), or null. */
  readonly reason: string | null;
  /** What runs instead when it is unavailable; null: no fallback, startup fails with `reason`. */
  readonly fallback: string | null;
}

const row = (name: NodeInternalName, internal: string, module: string, reason: string | null, fallback: string | null): NodeInternal => ({
  name,
  internal,
  module,
  available: reason === null,
  reason,
  fallback,
});

/** Built at load (every check has run by then): the same array on every call. */
const TABLE: readonly NodeInternal[] = Object.freeze([
  row('llhttp', 'HTTPParser from node:_http_common', 'internal/node/llhttp.ts', llhttpUnavailable, 'the node:http downstream'),
  row('readInto', 'net.Socket kBuffer/kBufferCb/kBufferGen and handle.useUserBuffer', 'internal/node/read-into.ts', readIntoUnavailable, "a new buffer per read ('data' events)"),
  row('createServerHandle', 'net._createServerHandle', 'internal/node/node-handles.ts', createServerHandleUnavailable, null),
]);

/** Every Node internal, with whether this Node.js has it: for a service to log at start. */
export function nodeInternals(): readonly NodeInternal[] {
  return TABLE;
}
