/**
 * Upstream HTTP/1.1 connection reuse, after Pingora's `pingora-pool`.
 *
 * Connections are grouped by peer key (`peerKey`): two peers with the same key share
 * connections. Per key, at most `size` idle connections are kept for reuse (Pingora's and
 * nginx's keepalive pool: it bounds what is kept, not how many requests run at once); beyond it
 * the least recently used are closed once they sat idle through a sweep tick (a burst under
 * load reuses them first instead of reconnecting). Idle connections are reused newest first, closed after
 * `idleTimeoutMs`, and never keep the process alive. `maxConnections` (default: none) caps idle +
 * in use + connecting per key; callers over it wait in line (FIFO) for a connection to come free.
 * Every timeout (idle, read, write, a caller's wait) is a deadline checked by one coarse sweep
 * per pool, not a timer per connection or per request. A key's bookkeeping is dropped once it
 * has no connections and no waiters, so peers that come and go do not pile up.
 */
import { channel } from 'node:diagnostics_channel';
import type { Socket } from 'node:net';
import { ProxyError } from '@pingora-ts/core';
import { connect } from './connect';
import { H2SessionPool, type H2PoolOwner, type H2PoolStats } from './h2-session-pool';
import { HttpConnection, SHARED_READS, type ConnectionOwner } from './http-connection';
import { parsePeerAddress, peerKey, type PeerAddress, type PeerLike } from './peer-like';
import { BufferedRequest, type PoolRequestOptions, type PoolResponse } from './buffered-request';
import { TimeoutSweep, type TimeoutTarget } from './timeout-sweep';

export interface ConnectionPoolOptions {
  /**
   * Most idle connections kept per peer key for reuse (Pingora's `upstream_keepalive_pool_size`,
   * nginx's `keepalive N`); beyond it the least recently used are closed once idle through a
   * sweep tick (at most about a second). It does not limit
   * how many connections are in use at once (see `maxConnections`). Default 128.
   */
  size?: number;
  /**
   * Most connections per peer key, idle + in use + connecting. A caller over it waits (first
   * come, first served) up to the peer's connect timeout for one to come free, then fails with
   * `ConnectionLimitReached` (503). A peer's own `maxConnections` overrides it. Default: no limit.
   */
  maxConnections?: number;
  /** How long an idle connection is kept before it is closed. Default 60000. */
  idleTimeoutMs?: number;
  /** Longest wait for a TCP/TLS connect, and for a free connection when the peer is at `maxConnections`. Default 5000. */
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
  /** Peer keys with connections or waiters right now. */
  peers: number;
  /** The HTTP/2 sessions (`pool.h2`): sessions and streams, opened since start and open now. */
  h2: H2PoolStats;
}

/** Published on `pingora-ts:pool:connect` for every new connection (only when someone subscribes). */
export interface PoolConnectMessage {
  key: string;
  address: string;
  tls: boolean;
}

const connectChannel = channel('pingora-ts:pool:connect');

const OPTION_KEYS = new Set(['size', 'maxConnections', 'idleTimeoutMs', 'connectTimeoutMs']);

/** A caller waiting for a connection to a peer at its `maxConnections`. */
interface Waiter {
  resolve(conn: HttpConnection): void;
  reject(err: ProxyError): void;
  /** `Date.now()` after which the sweep rejects it. */
  deadline: number;
  peer: PeerLike;
}

/** One peer key's connections. Checked by the sweep while it has waiters or more idle connections than `size`. */
class PeerBucket implements TimeoutTarget {
  /** Oldest parked first: reuse pops the newest, `size` evicts the oldest (LRU). */
  readonly idle: HttpConnection[] = [];
  /** First come, first served. */
  readonly waiters: Waiter[] = [];
  /** Handed out + being opened. */
  busy = 0;
  constructor(
    readonly key: string,
    readonly addr: PeerAddress,
    /** Idle + busy cap (`Infinity`: none). */
    readonly maxConnections: number,
    private readonly check: (bucket: PeerBucket, now: number) => void,
  ) {}

  checkTimeout(now: number): void {
    this.check(this, now);
  }
}

export class ConnectionPool implements ConnectionOwner, H2PoolOwner {
  /** Idle connections kept per peer key. */
  readonly size: number;
  /** Connections per peer key, idle + in use + connecting (`Infinity`: no limit). */
  readonly maxConnections: number;
  readonly idleTimeoutMs: number;
  readonly connectTimeoutMs: number;
  /** HTTP/2 sessions to peers with `alpn: 'h2'` or `'h2h1'` (many streams each). */
  readonly h2: H2SessionPool;

  private readonly buckets = new Map<string, PeerBucket>();
  private readonly all = new Set<HttpConnection>();
  /** Buckets the sweep checks: with waiters (their deadlines), or with more idle connections than `size`. */
  private readonly watched = new Set<PeerBucket>();
  private readonly sweep = new TimeoutSweep([this.all, this.watched]);
  private newCount = 0;
  private reusedCount = 0;
  private closing: Promise<void> | null = null;
  /** `closing` and the HTTP/2 sessions' close: what `close()` and `destroy()` return. */
  private closed: Promise<void> | null = null;
  private closedWaiters: Array<() => void> = [];

  constructor(options: ConnectionPoolOptions = {}) {
    for (const k of Object.keys(options)) {
      if (!OPTION_KEYS.has(k)) throw new TypeError(`unknown ConnectionPool option "${k}" (known: ${[...OPTION_KEYS].join(', ')})`);
    }
    this.size = positiveInt(options.size ?? 128, 'size');
    this.maxConnections = options.maxConnections === undefined ? Infinity : positiveInt(options.maxConnections, 'maxConnections');
    this.idleTimeoutMs = positiveInt(options.idleTimeoutMs ?? 60_000, 'idleTimeoutMs');
    this.connectTimeoutMs = positiveInt(options.connectTimeoutMs ?? 5_000, 'connectTimeoutMs');
    this.h2 = new H2SessionPool(this, this.idleTimeoutMs, this.connectTimeoutMs);
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
      h2: this.h2.stats(),
    };
  }

  /**
   * Hands out a connection to `peer`: the newest idle one (`conn.reused === true`), else a new
   * one; at `maxConnections`, the first one to come free. Rejects with a `ProxyError`
   * (`ConnectRefused`, `ConnectTimedout`, `ConnectError`) when connecting fails, or
   * `ConnectionLimitReached` when none came free within the connect timeout.
   * Give it back with `release(conn)` once the response ended.
   */
  acquire(peer: PeerLike): Promise<HttpConnection> {
    if (this.closing !== null) return Promise.reject(ProxyError.internal('InternalError', 'connection pool is closed'));
    const key = peer.poolKey ?? peerKey(peer);
    let bucket = this.buckets.get(key);
    if (bucket === undefined) {
      const max = peer.maxConnections === undefined ? this.maxConnections : peer.maxConnections;
      if (max !== Infinity && (!Number.isInteger(max) || max <= 0)) {
        return Promise.reject(new TypeError(`peer ${peer.address}: maxConnections must be a positive integer, got ${String(max)}`));
      }
      bucket = new PeerBucket(key, parsePeerAddress(peer.address), max, this.checkBucket);
      this.buckets.set(key, bucket);
    }
    const conn = popIdle(bucket);
    if (conn !== null) {
      this.activate(bucket, conn);
      return Promise.resolve(conn);
    }
    if (bucket.busy < bucket.maxConnections) return this.open(bucket, peer);
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
    else this.pruneIfEmpty(bucket); // popIdle may have dropped the last (closed) connection
    return conn;
  }

  /**
   * Takes a connection back after its response ended (or failed). When `conn.reusable` it goes
   * to the first waiter, else is kept idle (beyond `size`, the sweep closes the least
   * recently used ones that stay idle through a tick); otherwise it is closed. Safe on a closed connection.
   */
  release(conn: HttpConnection): void {
    const bucket = conn.slot as PeerBucket | null;
    if (bucket === null) return; // already released or closed
    conn.slot = null;
    bucket.busy--;
    if (conn.reusable && this.closing === null) {
      if (bucket.waiters.length > 0) {
        this.activate(bucket, conn);
        this.nextWaiter(bucket).resolve(conn);
        return;
      }
      conn.slot = bucket;
      conn.park();
      bucket.idle.push(conn);
      // Over `size`, the least recently used are closed by the sweep once they sat idle
      // through a tick: closing them now would reconnect on the next burst (under load the
      // number of idle connections swings by hundreds between two turns of the loop).
      if (bucket.idle.length > this.size) this.watched.add(bucket);
      return;
    }
    conn.destroy();
    this.serveWaiters(bucket);
    this.pruneIfEmpty(bucket);
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
    const first = this.closing === null;
    const p = this.shutdown(false);
    if (first) this.closed = Promise.all([p, this.h2.close(false)]).then(noop);
    return this.closed as Promise<void>;
  }

  /** Like `close()`, but destroys busy connections too, right now. Idempotent. */
  destroy(): Promise<void> {
    const first = this.closing === null;
    const p = this.shutdown(true);
    for (const conn of this.all) conn.destroy();
    const h2 = this.h2.close(true);
    if (first) this.closed = Promise.all([p, h2]).then(noop);
    return this.closed as Promise<void>;
  }

  private shutdown(force: boolean): Promise<void> {
    if (this.closing === null) {
      this.closing = new Promise<void>((resolve) => {
        this.closedWaiters.push(resolve);
      });
      const err = ProxyError.internal('InternalError', 'connection pool is closed');
      this.watched.clear();
      for (const bucket of this.buckets.values()) {
        for (const w of bucket.waiters.splice(0)) w.reject(err);
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
      this.pruneIfEmpty(bucket);
      throw err;
    }
    const conn = this.addConnection(bucket, peer, socket, !peer.tls);
    if (this.closing !== null) {
      this.release(conn);
      throw ProxyError.internal('InternalError', 'connection pool is closed');
    }
    return conn;
  }

  private addConnection(bucket: PeerBucket, peer: PeerLike, socket: Socket, readShared: boolean): HttpConnection {
    const conn = new HttpConnection(socket, bucket.key, peer.idleTimeoutMs ?? this.idleTimeoutMs, this, readShared);
    conn.slot = bucket;
    this.all.add(conn);
    this.newCount++;
    conn.activate(false);
    if (connectChannel.hasSubscribers) {
      connectChannel.publish({ key: bucket.key, address: peer.address, tls: peer.tls } satisfies PoolConnectMessage);
    }
    return conn;
  }

  /**
   * @internal Part of `H2PoolOwner`: a TLS socket to an `h2h1` peer on which ALPN chose
   * `http/1.1` becomes a busy connection of this pool (give it back with `release`).
   */
  adoptH1(peer: PeerLike, socket: Socket): HttpConnection {
    const key = peer.poolKey ?? peerKey(peer);
    let bucket = this.buckets.get(key);
    if (bucket === undefined) {
      bucket = new PeerBucket(key, parsePeerAddress(peer.address), peer.maxConnections ?? this.maxConnections, this.checkBucket);
      this.buckets.set(key, bucket);
    }
    bucket.busy++;
    return this.addConnection(bucket, peer, socket, false);
  }

  /** Queues a caller until a connection comes free; the sweep rejects it at its deadline. */
  private wait(bucket: PeerBucket, peer: PeerLike): Promise<HttpConnection> {
    const timeoutMs = peer.connectionTimeoutMs ?? this.connectTimeoutMs;
    return new Promise<HttpConnection>((resolve, reject) => {
      bucket.waiters.push({ resolve, reject, deadline: Date.now() + timeoutMs, peer });
      this.watched.add(bucket);
      this.sweep.watch(timeoutMs);
    });
  }

  /** The first waiter, taken out of the line. */
  private nextWaiter(bucket: PeerBucket): Waiter {
    const waiter = bucket.waiters.shift() as Waiter;
    return waiter;
  }

  /** Called by the sweep for a watched bucket: expires waiters, trims idle connections to `size`. */
  private readonly checkBucket = (bucket: PeerBucket, now: number): void => {
    if (bucket.waiters.length > 0) this.expireWaiters(bucket, now);
    const idle = bucket.idle;
    // Oldest first: close those beyond `size` that were idle before this tick.
    while (idle.length > this.size && (idle[0] as HttpConnection).idleBefore(now)) {
      const lru = idle.shift() as HttpConnection;
      lru.slot = null; // no longer the bucket's: its close event changes nothing
      lru.destroy();
    }
    if (bucket.waiters.length === 0 && idle.length <= this.size) {
      this.watched.delete(bucket);
      this.pruneIfEmpty(bucket);
    }
  };

  /** Rejects the waiters whose deadline passed. */
  private expireWaiters(bucket: PeerBucket, now: number): void {
    const waiters = bucket.waiters;
    let kept = 0;
    for (const w of waiters) {
      if (now < w.deadline) {
        waiters[kept++] = w;
        continue;
      }
      const timeoutMs = w.peer.connectionTimeoutMs ?? this.connectTimeoutMs;
      w.reject(
        ProxyError.upstream(
          'ConnectionLimitReached',
          `no free connection to ${w.peer.address} within ${timeoutMs} ms (max ${bucket.maxConnections} connections)`,
          undefined,
          w.peer.address,
        ),
      );
    }
    waiters.length = kept;
  }

  /** A slot freed up: give waiters an idle connection, or open a new one for them. */
  private serveWaiters(bucket: PeerBucket): void {
    while (bucket.waiters.length > 0 && this.closing === null) {
      const conn = popIdle(bucket);
      if (conn === null && bucket.busy >= bucket.maxConnections) return;
      const waiter = this.nextWaiter(bucket);
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
      this.pruneIfEmpty(bucket);
    }
    this.checkClosed();
  }

  /** Forgets a key with no connections and no waiters (peers found by discovery come and go). */
  private pruneIfEmpty(bucket: PeerBucket): void {
    if (bucket.busy === 0 && bucket.idle.length === 0 && bucket.waiters.length === 0 && this.buckets.get(bucket.key) === bucket) {
      this.buckets.delete(bucket.key);
      this.h2.forgetH1(bucket.key); // an h2h1 peer negotiates again on its next connection
    }
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

function noop(): void {}

function positiveInt(v: number, name: string): number {
  if (!Number.isInteger(v) || v <= 0) throw new TypeError(`ConnectionPool option "${name}" must be a positive integer, got ${String(v)}`);
  return v;
}
