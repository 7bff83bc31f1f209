/**
 * What an old process hands a new one in an upgrade, whichever way it travels (the upgrade
 * socket for `-u` + SIGQUIT, the IPC channel for SIGHUP): the listening sockets by key, and
 * the TLS session ticket keys so sessions resume across the upgrade.
 */
import type { BoundSocket } from '../listeners/bound-socket';
import type { JsonValue } from '../state-channel';

export interface HandoffListener {
  key: string;
  addr: string;
}

export interface HandoffHeader {
  v: 1;
  /** The old process. */
  pid: number;
  /** In the order of the descriptors that travel with it. */
  listeners: HandoffListener[];
  /** Base64 of the 48 ticket key bytes. */
  ticketKeys: string;
  /** SIGHUP only: the old generation's `StateChannel.carry` values, by topic. */
  carried?: Record<string, JsonValue>;
}

/** The header for handing `sockets` over; their descriptors travel alongside, in the same order. */
export function handoffHeader(sockets: readonly BoundSocket[], ticketKeys: Buffer, carried?: Record<string, JsonValue>): HandoffHeader {
  const header: HandoffHeader = { v: 1, pid: process.pid, listeners: sockets.map((s) => ({ key: s.key, addr: s.addr })), ticketKeys: ticketKeys.toString('base64') };
  if (carried !== undefined) header.carried = carried;
  return header;
}

/** The new process's answer once it serves (or why it cannot). */
export type HandoffReply = { ok: true; pid: number } | { ok: false; message: string };

/** The message a SIGHUP's new generation gets over IPC; descriptors are already at `fd`. */
export interface IpcHandoff {
  pingora: 'handoff';
  header: HandoffHeader;
  fds: number[];
}

export function isIpcHandoff(value: unknown): value is IpcHandoff {
  return typeof value === 'object' && value !== null && (value as { pingora?: unknown }).pingora === 'handoff';
}

export function isHandoffHeader(value: unknown): value is HandoffHeader {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Partial<HandoffHeader>;
  const carried = v.carried === undefined || (typeof v.carried === 'object' && v.carried !== null && !Array.isArray(v.carried));
  return v.v === 1 && typeof v.pid === 'number' && Array.isArray(v.listeners) && typeof v.ticketKeys === 'string' && carried;
}

export function isHandoffReply(value: unknown): value is HandoffReply {
  return typeof value === 'object' && value !== null && typeof (value as { ok?: unknown }).ok === 'boolean';
}
