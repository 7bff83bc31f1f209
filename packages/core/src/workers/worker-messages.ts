/**
 * What a primary and its workers say to each other over the IPC channel. Every message
 * carries `pingora`, so an app's own IPC messages on the same channel are left alone.
 */
import type { BoundAddress } from '../service';
import type { InheritedSocket } from '../listeners/listener-registry';
import type { JsonValue } from '../state-channel';

export type PrimaryMessage =
  /** First message to a new worker: its sockets (already at their fd numbers), ticket keys, the current state. */
  | { pingora: 'init'; id: number; listeners: InheritedSocket[]; ticketKeys: string; state: Record<string, JsonValue> }
  | { pingora: 'state'; topic: string; payload: JsonValue }
  | { pingora: 'shutdown'; graceful: boolean; timeoutMs: number }
  | { pingora: 'reload-tls' }
  /** A question for the worker's `StateChannel.answer(topic)`; answered with the same `id`. */
  | { pingora: 'ask'; id: number; topic: string };

/** The first message of a worker's life. */
export type InitMessage = Extract<PrimaryMessage, { pingora: 'init' }>;

export type WorkerMessage =
  /** Sent once the worker listens for messages: only then does the primary send `init`. */
  | { pingora: 'hello' }
  | { pingora: 'ready'; addresses: BoundAddress[] }
  | { pingora: 'failed'; message: string }
  | { pingora: 'publish'; topic: string; payload: JsonValue }
  /** The answer to `ask` `id`; `payload` is absent when the worker has no answerer or it failed (`error`). */
  | { pingora: 'answer'; id: number; payload?: JsonValue; error?: string };

function tagged(value: unknown): value is { pingora: string } {
  return typeof value === 'object' && value !== null && typeof (value as { pingora?: unknown }).pingora === 'string';
}

export function isPrimaryMessage(value: unknown): value is PrimaryMessage {
  return tagged(value) && ['init', 'state', 'shutdown', 'reload-tls', 'ask'].includes(value.pingora);
}

export function isWorkerMessage(value: unknown): value is WorkerMessage {
  return tagged(value) && ['hello', 'ready', 'failed', 'publish', 'answer'].includes(value.pingora);
}
