/**
 * Upstream HTTP/1.1 connection reuse, after Pingora's `pingora-pool`.
 *
 * Connections are grouped by peer key (`peerKey`): two peers with the same key share
 * connections. Per key, at most `size` connections exist (idle + in use + connecting); a
 * caller that finds none free waits for one (up to the connect timeout). Idle connections are
 * reused newest first, closed after `idleTimeoutMs`, and never keep the process alive.
 * Every timeout (idle, read, write) is a deadline on the connection checked by one coarse
 * sweep per pool, not a timer per connection or per request.
 */
import { channel } from 'node:diagnostics_channel';
import { ProxyError } from '@pingora-ts/core';
import { connect } from './connect';
import { HttpConnection, SHARED_READS, type ConnectionOwner } from './http-connection';
import { parsePeerAddress, peerKey, type PeerAddress, type PeerLike } from './peer-like';
import { BufferedRequest, type PoolRequestOptions, type PoolResponse } from './buffered-request';
import { TimeoutSweep } from './timeout-sweep';

export interface ConnectionPoolOptions {
  /** Most connections per peer key, idle and in use together (Pingora's `upstream_keepalive_pool_size`). Default 128. */
  size?: number;
  /** How long an idle connection is kept before it is closed. Default 60000. */
  idleTimeoutMs?: number;
  /** Longest wait for a TCP/TLS connect, or for a free connection when the peer is at `size`. Default 5000. */
  connectTimeoutMs?: number;
}

/** A snapshot of the pool's counters. */
export interface PoolStats {
  /** Connections opened since the pool was made. */
  newConnections: number;
  /** Times an already-open connection was handed out again. */
  reusedConnections: number;
  /** Connections waiting in the pool for a request. */
  idleConnections: number;
  /** Connections handed out (or being opened) right now. */
  activeConnections: number;
  /** Peer keys the pool knows. */
  peers: number;
}

/** Published on `pingora-ts:pool:connect` for every new connection (only when someone subscribes). */
export interface PoolConnectMessage {
  key: string;
  address: string;
  tls: boolean;
}

const connectChannel = channel('pingora-ts:pool:connect');

const OPTION_KEYS = new Set(['size', 'idleTimeoutMs', 'connectTimeoutMs']);

interface Waiter {
  resolve(conn: HttpConnection): void;
  reject(err: ProxyError): void;
  timer: NodeJS.Timeout | undefined;
  peer: PeerLike;
}

/** One peer key's connections. */
class PeerBucket {
  readonly idle: HttpConnection[] = [];
  readonly waiters: Waiter[] = [];
  /** Handed out + being opened. */
  busy = 0;
  constructor(
    readonly key: string,
    readonly addr: PeerAddress,
  ) {}
}

export class ConnectionPool implements ConnectionOwner {
  readonly size: number;
  readonly idleTimeoutMs: number;
  readonly connectTimeoutMs: number;

  private readonly buckets = new Map<string, PeerBucket>();
  private readonly all = new Set<HttpConnection>();
  private readonly sweep = new TimeoutSweep(this.all);
  private newCount = 0;
  private reusedCount = 0;
  private closing: Promise<void> | null = null;
  private closedWaiters: Array<() => void> = [];

  constructor(options: ConnectionPoolOptions = {}) {
    for (const k of Object.keys(options)) {
      if (!OPTION_KEYS.has(k)) throw new TypeError(`unknown ConnectionPool option "${k}" (known: ${[...OPTION_KEYS].join(', ')})`);
    }
    this.size = positiveInt(options.size ?? 128, 'size');
    this.idleTimeoutMs = positiveInt(options.idleTimeoutMs ?? 60_000, 'idleTimeoutMs');
    this.connectTimeoutMs = positiveInt(options.connectTimeoutMs ?? 5_000, 'connectTimeoutMs');
  }

  /** Connections opened since the pool was made. */
  get newConnections(): number {
    return this.newCount;
  }

  /** Times an already-open connection was handed out again (a request sent on it counts as reused). */
  get reusedConnections(): number {
    return this.reusedCount;
  }

  /** Counters and current sizes. */
  stats(): PoolStats {
    let idle = 0;
    let busy = 0;
    for (const b of this.buckets.values()) {
      idle += b.idle.length;
      busy += b.busy;
    }
    return {
      newConnections: this.newCount,
      reusedConnections: this.reusedCount,
      idleConnections: idle,
      activeConnections: busy,
      peers: this.buckets.size,
    };
  }

  /**
   * Hands out a connection to `peer`: the newest idle one (`conn.reused === true`), else a new
   * one. Rejects with a `ProxyError` (`ConnectRefused`, `ConnectTimedout`, `ConnectError`) when
   * connecting fails, or `ConnectTimedout` when the peer stays at `size` too long.
   * Give it back with `release(conn)` once the response ended.
   */
  acquire(peer: PeerLike): Promise<HttpConnection> {
    if (this.closing !== null) return Promise.reject(ProxyError.internal('InternalError', 'connection pool is closed'));
    const key = peer.poolKey ?? peerKey(peer);
    let bucket = this.buckets.get(key);
    if (bucket === undefined) {
      bucket = new PeerBucket(key, parsePeerAddress(peer.address));
      this.buckets.set(key, bucket);
    }
    const conn = popIdle(bucket);
    if (conn !== null) {
      this.activate(bucket, conn);
      return Promise.resolve(conn);
    }
    if (bucket.busy < this.size) return this.open(bucket, peer);
    return this.wait(bucket, peer);
  }

  /**
   * The newest idle connection to `peer`, handed out now (`conn.reused === true`), or `null`
   * when there is none (then `acquire` opens or waits for one). The synchronous fast path of
   * `acquire`: no promise, no microtask.
   */
  acquireIdle(peer: PeerLike): HttpConnection | null {
    if (this.closing !== null) return null;
    const bucket = this.buckets.get(peer.poolKey ?? peerKey(peer));
    if (bucket === undefined) return null;
    const conn = popIdle(bucket);
    if (conn !== null) this.activate(bucket, conn);
    return conn;
  }

  /**
   * Takes a connection back after its response ended (or failed). It is kept for reuse when
   * `conn.reusable`, else closed. Safe to call on a connection that already closed.
   */
  release(conn: HttpConnection): void {
    const bucket = conn.slot as PeerBucket | null;
    if (bucket === null) return; // already released or closed
    conn.slot = null;
    bucket.busy--;
    if (conn.reusable && this.closing === null) {
      const waiter = bucket.waiters.shift();
      if (waiter !== undefined) {
        if (waiter.timer !== undefined) clearTimeout(waiter.timer);
        this.activate(bucket, conn);
        waiter.resolve(conn);
        return;
      }
      conn.slot = bucket;
      conn.park();
      bucket.idle.push(conn);
      return;
    }
    conn.destroy();
    this.serveWaiters(bucket);
  }

  /**
   * Sends one request and collects the whole response in memory: a convenience for small
   * bodies (health checks, tests, scripts). Retries once on a fresh connection when a reused
   * one turns out closed. Proxies stream instead (see `HttpConnection`).
   */
  async request(peer: PeerLike, opts: PoolRequestOptions = {}): Promise<PoolResponse> {
    for (let attempt = 0; ; attempt++) {
      const conn = await this.acquire(peer);
      try {
        return await new BufferedRequest(this, conn, peer, opts).send();
      } catch (err) {
        const e = ProxyError.from(err);
        if (attempt > 0 || !e.canRetry(conn.reused)) throw e;
      }
    }
  }

  /**
   * Stops handing out connections: waiters are rejected, idle connections closed, and busy ones
   * closed when released. Resolves once every connection is closed. Idempotent.
   */
  close(): Promise<void> {
    return this.shutdown(false);
  }

  /** Like `close()`, but destroys busy connections too, right now. Idempotent. */
  destroy(): Promise<void> {
    const p = this.shutdown(true);
    for (const conn of this.all) conn.destroy();
    return p;
  }

  private shutdown(force: boolean): Promise<void> {
    if (this.closing === null) {
      this.closing = new Promise<void>((resolve) => {
        this.closedWaiters.push(resolve);
      });
      const err = ProxyError.internal('InternalError', 'connection pool is closed');
      for (const bucket of this.buckets.values()) {
        for (const w of bucket.waiters.splice(0)) {
          if (w.timer !== undefined) clearTimeout(w.timer);
          w.reject(err);
        }
        for (const conn of bucket.idle.splice(0)) {
          conn.slot = null;
          conn.destroy();
        }
      }
      this.checkClosed();
    }
    if (force) for (const conn of this.all) conn.destroy();
    return this.closing;
  }

  private checkClosed(): void {
    if (this.closing !== null && this.all.size === 0) {
      this.sweep.stop();
      for (const done of this.closedWaiters.splice(0)) done();
    }
  }

  /** Hands out a connection that was idle (or just released) as reused. */
  private activate(bucket: PeerBucket, conn: HttpConnection): void {
    conn.slot = bucket;
    bucket.busy++;
    this.reusedCount++;
    conn.activate(true);
  }

  private async open(bucket: PeerBucket, peer: PeerLike): Promise<HttpConnection> {
    bucket.busy++;
    let socket;
    try {
      socket = await connect(peer, bucket.addr, peer.connectionTimeoutMs ?? this.connectTimeoutMs, peer.tls ? undefined : SHARED_READS);
    } catch (err) {
      bucket.busy--;
      this.serveWaiters(bucket);
      throw err;
    }
    const conn = new HttpConnection(socket, bucket.key, peer.idleTimeoutMs ?? this.idleTimeoutMs, this, !peer.tls);
    conn.slot = bucket;
    this.all.add(conn);
    this.newCount++;
    conn.activate(false);
    if (connectChannel.hasSubscribers) {
      connectChannel.publish({ key: bucket.key, address: peer.address, tls: peer.tls } satisfies PoolConnectMessage);
    }
    if (this.closing !== null) {
      this.release(conn);
      throw ProxyError.internal('InternalError', 'connection pool is closed');
    }
    return conn;
  }

  private wait(bucket: PeerBucket, peer: PeerLike): Promise<HttpConnection> {
    return new Promise<HttpConnection>((resolve, reject) => {
      const waiter: Waiter = { resolve, reject, timer: undefined, peer };
      const timeoutMs = peer.connectionTimeoutMs ?? this.connectTimeoutMs;
      waiter.timer = setTimeout(() => {
        const at = bucket.waiters.indexOf(waiter);
        if (at >= 0) bucket.waiters.splice(at, 1);
        reject(
          ProxyError.upstream(
            'ConnectTimedout',
            `no free connection to ${peer.address} within ${timeoutMs} ms (pool size ${this.size})`,
            undefined,
            peer.address,
          ),
        );
      }, timeoutMs);
      bucket.waiters.push(waiter);
    });
  }

  /** A slot freed up: give waiters an idle connection, or open a new one for them. */
  private serveWaiters(bucket: PeerBucket): void {
    while (bucket.waiters.length > 0 && this.closing === null) {
      const conn = popIdle(bucket);
      if (conn === null && bucket.busy >= this.size) return;
      const waiter = bucket.waiters.shift() as Waiter;
      if (waiter.timer !== undefined) clearTimeout(waiter.timer);
      if (conn !== null) {
        this.activate(bucket, conn);
        waiter.resolve(conn);
      } else {
        this.open(bucket, waiter.peer).then(waiter.resolve, waiter.reject);
      }
    }
  }

  /** @internal Part of `ConnectionOwner`: keeps the sweep ticking often enough for a timeout of `ms`. */
  watchTimeout(ms: number): void {
    this.sweep.watch(ms);
  }

  /** @internal */
  onConnectionClosed(conn: HttpConnection): void {
    this.all.delete(conn);
    const bucket = conn.slot as PeerBucket | null;
    if (bucket !== null) {
      conn.slot = null;
      const at = bucket.idle.indexOf(conn);
      if (at >= 0) {
        bucket.idle.splice(at, 1);
      } else {
        bucket.busy--;
        this.serveWaiters(bucket);
      }
    }
    this.checkClosed();
  }
}

/** The newest idle connection that is still open, or null (closed ones are dropped). */
function popIdle(bucket: PeerBucket): HttpConnection | null {
  const idle = bucket.idle;
  while (idle.length > 0) {
    const conn = idle.pop() as HttpConnection;
    if (!conn.closed) return conn;
    conn.slot = null;
  }
  return null;
}

function positiveInt(v: number, name: string): number {
  if (!Number.isInteger(v) || v <= 0) throw new TypeError(`ConnectionPool option "${name}" must be a positive integer, got ${String(v)}`);
  return v;
}
