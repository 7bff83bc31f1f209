/**
 * `Tunnel`: after a `101 Switching Protocols` (WebSocket, any HTTP/1.1 `Upgrade`) or an allowed
 * `CONNECT`, the downstream and the upstream sockets leave HTTP and the tunnel owns both: bytes
 * move both ways as they come, with backpressure (the side that writes into a full socket is
 * paused until it drains), half-close (one side's FIN ends the other's writing; the tunnel is
 * over once both ended and flushed), a reset or error on one side destroys the other, and an
 * idle timeout destroys both when no byte moved for `idleTimeoutMs`. Its owner hears once, when
 * both sockets closed, with the bytes moved each way.
 *
 * One `TunnelPipe` per direction (the same piece used twice). No closure per chunk: each pipe
 * is the `RawReader` of its source and the socket events go to shared functions.
 */
import type { Socket } from 'node:net';
import type { RawReader } from '@pingora-ts/pool';

/** One side of a tunnel as a session hands it over (`takeSocket`). */
export interface TunnelSide {
  readonly socket: Socket;
  /** Bytes read past the HTTP head before the hand-over: the first tunnel bytes from this side, or null. */
  readonly head: Buffer | null;
  /** This side's FIN already arrived before the hand-over. */
  readonly ended: boolean;
  /** From now on every read of the socket goes to `reader` (a buffer it may keep). Called once. */
  startReads(reader: RawReader): void;
}

/** Told once, when both sockets of the tunnel closed. */
export interface TunnelOwner {
  onTunnelEnd(tunnel: Tunnel): void;
}

/** Default `tunnelIdleTimeoutMs`: 5 minutes without a byte either way. */
export const DEFAULT_TUNNEL_IDLE_TIMEOUT_MS = 300_000;

/** Why a tunnel ended, for logs. */
export type TunnelEndReason = 'closed' | 'reset' | 'idle-timeout' | 'destroyed';

const kPipe = Symbol('pingora-ts.tunnelPipe');
const kWriter = Symbol('pingora-ts.tunnelWriter');

interface TaggedSocket extends Socket {
  /** The pipe that reads this socket. */
  [kPipe]?: TunnelPipe;
  /** The pipe that writes into this socket (resumed on its drain). */
  [kWriter]?: TunnelPipe;
}

/** One direction: reads `from`, writes `to`. */
class TunnelPipe implements RawReader {
  /** Bytes moved through this pipe. */
  bytes = 0;
  /** `from` sent its FIN (and `to` was ended after what was queued). */
  ended = false;
  /** `from` closed. */
  closed = false;

  constructor(
    readonly tunnel: Tunnel,
    readonly from: Socket,
    readonly to: Socket,
  ) {}

  onRawData(chunk: Buffer): void {
    this.bytes += chunk.length;
    this.tunnel.moved = true;
    if (!this.to.write(chunk)) this.from.pause(); // resumed on `to`'s drain
  }

  /** `from`'s FIN: no more bytes this way; `to` ends once what is queued was written. */
  onEnd(): void {
    if (this.ended) return;
    this.ended = true;
    if (!this.to.destroyed) this.to.end();
  }

  /** `to` drained: read `from` again. */
  onDrain(): void {
    if (!this.from.destroyed) this.from.resume();
  }
}

export class Tunnel {
  /** Client to upstream. */
  private readonly up: TunnelPipe;
  /** Upstream to client. */
  private readonly down: TunnelPipe;
  /** @internal A byte moved since the idle check last looked. */
  moved = false;
  private silentTicks = 0;
  private timer: NodeJS.Timeout | null = null;
  private done = false;
  /** Why it ended (`'closed'` until something else happened). */
  reason: TunnelEndReason = 'closed';

  /**
   * Joins `client` and `upstream`, writes each side's early bytes to the other, and starts
   * reading both. `idleTimeoutMs`: 0 for none.
   */
  constructor(
    client: TunnelSide,
    upstream: TunnelSide,
    readonly idleTimeoutMs: number,
    private readonly owner: TunnelOwner,
  ) {
    const c = client.socket as TaggedSocket;
    const u = upstream.socket as TaggedSocket;
    this.up = new TunnelPipe(this, c, u);
    this.down = new TunnelPipe(this, u, c);
    c[kPipe] = this.up;
    u[kPipe] = this.down;
    c[kWriter] = this.down;
    u[kWriter] = this.up;
    for (const s of [c, u]) {
      // Each direction closes on its own (one side's FIN ends only the other's writing).
      s.allowHalfOpen = true;
      s.setNoDelay(true);
      s.on('end', onSocketEnd);
      s.on('drain', onSocketDrain);
      s.on('error', onSocketError);
      s.on('close', onSocketClose);
    }
    if (idleTimeoutMs > 0) {
      // Four ticks per timeout: a silent tunnel closes after between 1 and 1.25 timeouts.
      this.timer = setInterval(checkIdle, Math.max(1, Math.floor(idleTimeoutMs / 4)), this);
      this.timer.unref();
    }
    if (c.destroyed || u.destroyed) {
      // A side went away during the hand-over (its 'close' may have been emitted already).
      this.up.closed = c.closed;
      this.down.closed = u.closed;
      this.fail('reset');
      if (this.up.closed && this.down.closed) this.finish();
      return;
    }
    if (client.head !== null && client.head.length > 0) this.up.onRawData(client.head);
    if (upstream.head !== null && upstream.head.length > 0) this.down.onRawData(upstream.head);
    client.startReads(this.up);
    upstream.startReads(this.down);
    if (client.ended) this.up.onEnd();
    if (upstream.ended) this.down.onEnd();
    c.resume();
    u.resume();
  }

  /** Bytes from the client to the upstream. */
  get bytesUp(): number {
    return this.up.bytes;
  }

  /** Bytes from the upstream to the client. */
  get bytesDown(): number {
    return this.down.bytes;
  }

  /** Ends the tunnel now: both sockets destroyed. Idempotent. */
  destroy(): void {
    this.fail('destroyed');
  }

  /**
   * @internal `pipe`'s source closed. After a clean close of both directions the other side
   * closes by itself once flushed; any other close (a reset, a close before both FINs) destroys it.
   */
  socketClosed(pipe: TunnelPipe, hadError: boolean): void {
    pipe.closed = true;
    const other = pipe === this.up ? this.down : this.up;
    if (other.closed) {
      this.finish();
      return;
    }
    // No error yet not both FINs: destroyed here (shutdown, the request failed), not by a peer.
    if (hadError || !(this.up.ended && this.down.ended)) this.fail(hadError ? 'reset' : 'destroyed');
  }

  /** @internal Called by the idle timer. */
  checkIdle(): void {
    if (this.moved) {
      this.moved = false;
      this.silentTicks = 0;
      return;
    }
    if (++this.silentTicks >= 4) this.fail('idle-timeout');
  }

  private fail(reason: TunnelEndReason): void {
    if (this.reason === 'closed') this.reason = reason;
    this.up.from.destroy();
    this.down.from.destroy();
  }

  private finish(): void {
    if (this.done) return;
    this.done = true;
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    this.owner.onTunnelEnd(this);
  }
}

function onSocketEnd(this: TaggedSocket): void {
  this[kPipe]?.onEnd();
}

function onSocketDrain(this: TaggedSocket): void {
  this[kWriter]?.onDrain();
}

function onSocketError(): void {
  // 'close' follows (with hadError) and ends the tunnel.
}

function onSocketClose(this: TaggedSocket, hadError: boolean): void {
  const pipe = this[kPipe];
  if (pipe !== undefined) pipe.tunnel.socketClosed(pipe, hadError);
}

function checkIdle(t: Tunnel): void {
  t.checkIdle();
}
