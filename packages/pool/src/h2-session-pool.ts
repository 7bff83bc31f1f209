/**
 * Upstream HTTP/2 sessions shared by many streams, after Pingora's h2 connection reuse.
 *
 * Per peer key the pool keeps the open `node:http2` client sessions. A stream goes on the
 * first session with a free slot under the peer's `maxConcurrentStreams` (its SETTINGS);
 * another session is opened only when every one is full. Concurrent callers wait for a
 * session being opened instead of each opening one. A session that received GOAWAY takes no
 * new stream; one that closed or failed is dropped; one idle (no stream) for the idle timeout
 * is closed by the pool's sweep. Sockets are made by the pool's `connect` (TLS, SNI, verify,
 * CA) and handed to `http2.connect` through `createConnection`.
 *
 * `maxConnections` (the peer's, else the pool's) caps the sessions per peer: when that many are
 * open and full, a caller waits for a stream slot, at most the connect timeout, then gets
 * `ConnectionLimitReached` (503), as HTTP/1.1 callers wait for a connection.
 *
 * `alpn: 'h2h1'` over TLS offers `[h2, http/1.1]`: when the peer picks `http/1.1`, the socket
 * becomes an HTTP/1.1 `HttpConnection` of the connection pool (`H2PoolOwner.adoptH1`) and the
 * peer is remembered as HTTP/1.1 (`prefersH1`) until its HTTP/1.1 connections are all gone.
 */
import * as http2 from 'node:http2';
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { ProxyError } from '@pingora-ts/core';
import { connect } from './connect';
import type { HttpConnection } from './http-connection';
import { parsePeerAddress, peerKey, peerProtocol, type PeerLike } from './peer-like';
import { TimeoutSweep, type TimeoutTarget } from './timeout-sweep';

/** What the session pool needs from its owner (the `ConnectionPool`). */
export interface H2PoolOwner {
  /** Turns a TLS socket on which ALPN chose `http/1.1` into a busy HTTP/1.1 connection of the pool. */
  adoptH1(peer: PeerLike, socket: Socket): HttpConnection;
  /** Sessions per peer when the peer sets no `maxConnections` (`Infinity`: no limit). */
  readonly maxConnections: number;
}

/** A snapshot of the HTTP/2 counters. */
export interface H2PoolStats {
  /** Sessions opened since the pool was made. */
  newSessions: number;
  /** Sessions open now. */
  sessions: number;
  /** Streams opened since the pool was made. */
  streams: number;
  /** Streams open (or reserved) now. */
  activeStreams: number;
}

/** A stream slot on a session, handed out by `reuse` / `acquire`. */
export interface H2Reservation {
  readonly session: H2Session;
  /** The session carried an earlier stream. */
  readonly reused: boolean;
}

const TLS_H2 = ['h2'];
const TLS_H2H1 = ['h2', 'http/1.1'];

/** One upstream HTTP/2 connection. */
export class H2Session implements TimeoutTarget {
  /** Streams reserved or open on it. */
  streams = 0;
  /** Streams handed out since it opened. */
  handed = 0;
  /** It received GOAWAY, failed or is closing: it takes no new stream. */
  closing = false;
  /** The peer's `maxConcurrentStreams` (its SETTINGS). */
  maxStreams = Infinity;
  /** The highest stream id the peer said it processed in a GOAWAY (`Infinity`: no GOAWAY). */
  goawayLastStreamId = Infinity;
  /** When an idle session is closed (0: not idle). */
  private idleDeadline = 0;
  /** Its open streams (a GOAWAY cancels those the peer did not process). */
  private readonly open = new Set<http2.ClientHttp2Stream>();

  constructor(
    readonly session: http2.ClientHttp2Session,
    readonly key: string,
    private readonly idleTimeoutMs: number,
    private readonly onGone: (s: H2Session) => void,
    private readonly onFree: (s: H2Session) => void = noop,
  ) {}

  /** It may carry one more stream now. */
  get available(): boolean {
    return !this.closing && this.streams < this.maxStreams && !this.session.closed && !this.session.destroyed;
  }

  /**
   * Opens a stream on a reserved slot. The slot is given back when the stream closes.
   * Throws (and gives the slot back) when the session cannot open one any more.
   */
  request(headers: http2.OutgoingHttpHeaders, options: http2.ClientSessionRequestOptions): http2.ClientHttp2Stream {
    let stream: http2.ClientHttp2Stream;
    try {
      stream = this.session.request(headers, options);
    } catch (err) {
      this.free();
      throw err;
    }
    (stream as TaggedStream)[kSession] = this;
    this.open.add(stream);
    stream.on('close', onStreamClose); // emitted once; `on` allocates no wrapper
    return stream;
  }

  /**
   * @internal The peer sent GOAWAY: no new stream goes here, and the streams above
   * `lastStreamId`, which the peer will never process, are cancelled (node:http2 would leave them
   * waiting); their owners see a GOAWAY-refused stream, safe to retry (RFC 9113 §6.8).
   */
  onGoaway(lastStreamId: number): void {
    this.closing = true;
    this.goawayLastStreamId = lastStreamId;
    for (const stream of this.open) {
      if (stream.id !== undefined && stream.id > lastStreamId && !stream.closed) stream.close(http2.constants.NGHTTP2_CANCEL);
    }
  }

  /** Gives back a reserved slot on which no stream was opened. */
  cancel(): void {
    this.free();
  }

  /** @internal Reserves a slot. */
  take(): boolean {
    this.streams++;
    this.idleDeadline = 0;
    if (this.streams === 1) this.session.ref();
    return this.handed++ > 0;
  }

  /** @internal A stream closed. */
  closed(stream: http2.ClientHttp2Stream): void {
    this.open.delete(stream);
    this.free();
  }

  /** @internal A slot came free. */
  free(): void {
    if (this.streams === 0) return;
    this.streams--;
    if (this.streams === 0) {
      this.idleDeadline = Date.now() + this.idleTimeoutMs;
      this.session.unref(); // an idle session never keeps the process alive
    }
    this.onFree(this);
  }

  /** @internal Called by the sweep: closes the session once idle for the idle timeout. */
  checkTimeout(now: number): void {
    if (this.session.destroyed) {
      this.onGone(this); // a session destroyed after a GOAWAY does not always emit 'close'
      return;
    }
    if (this.streams === 0 && this.idleDeadline !== 0 && now >= this.idleDeadline) {
      this.closing = true;
      this.session.close();
    }
  }
}

const kSession = Symbol('pingora-ts.h2Session');
interface TaggedStream extends http2.ClientHttp2Stream {
  [kSession]?: H2Session;
}

function onStreamClose(this: http2.ClientHttp2Stream): void {
  const s = (this as TaggedStream)[kSession];
  if (s !== undefined) s.closed(this);
}

/** A caller waiting for a stream slot to a peer at its `maxConnections`. */
interface H2Waiter {
  readonly peer: PeerLike;
  readonly max: number;
  readonly resolve: (r: H2Reservation | HttpConnection) => void;
  readonly reject: (err: Error) => void;
  readonly timer: NodeJS.Timeout;
}

class H2Bucket {
  readonly sessions: H2Session[] = [];
  /** A session being opened: callers wait for it rather than open their own. */
  connecting: Promise<H2Session | HttpConnection> | null = null;
  /** Callers waiting for a slot, first come first served. */
  readonly waiters: H2Waiter[] = [];
}

export class H2SessionPool {
  private readonly buckets = new Map<string, H2Bucket>();
  private readonly all = new Set<H2Session>();
  /** Streams with a deadline (their read or write timeout), checked by the same sweep. */
  private readonly timed = new Set<TimeoutTarget>();
  private readonly sweep = new TimeoutSweep([this.all, this.timed]);
  /** `h2h1` peer keys whose TLS handshake chose `http/1.1`. */
  private readonly h1Keys = new Set<string>();
  private newCount = 0;
  private streamCount = 0;
  private closed = false;
  private closedWaiters: Array<() => void> = [];

  constructor(
    private readonly owner: H2PoolOwner,
    private readonly idleTimeoutMs: number,
    private readonly connectTimeoutMs: number,
  ) {}

  stats(): H2PoolStats {
    let active = 0;
    for (const s of this.all) active += s.streams;
    return { newSessions: this.newCount, sessions: this.all.size, streams: this.streamCount, activeStreams: active };
  }

  /** An `h2h1` peer that negotiated `http/1.1`: its requests go to the HTTP/1.1 pool. */
  prefersH1(peer: PeerLike): boolean {
    return this.h1Keys.size > 0 && this.h1Keys.has(peer.poolKey ?? peerKey(peer));
  }

  /** @internal The HTTP/1.1 pool has no connection left for `key`: negotiate again next time. */
  forgetH1(key: string): void {
    this.h1Keys.delete(key);
  }

  /** A slot on an open session to `peer` with room, reserved now; or null (then `acquire`). */
  reuse(peer: PeerLike): H2Reservation | null {
    const bucket = this.buckets.get(peer.poolKey ?? peerKey(peer));
    if (bucket === undefined) return null;
    for (const s of bucket.sessions) {
      if (s.available) {
        this.streamCount++;
        return { session: s, reused: s.take() };
      }
    }
    return null;
  }

  /**
   * A slot on a session to `peer`: one with room, else the one being opened, else a new one.
   * For an `h2h1` TLS peer whose handshake chose `http/1.1`, an `HttpConnection` instead.
   * Rejects with a `ProxyError` (connect kinds; `ConnectError` when the peer does not speak HTTP/2).
   */
  async acquire(peer: PeerLike): Promise<H2Reservation | HttpConnection> {
    for (;;) {
      if (this.closed) throw ProxyError.internal('InternalError', 'connection pool is closed');
      const slot = this.reuse(peer);
      if (slot !== null) return slot;
      const key = peer.poolKey ?? peerKey(peer);
      const bucket = this.bucketFor(key);
      const max = peer.maxConnections ?? this.owner.maxConnections;
      if (bucket.connecting === null && bucket.sessions.length >= max) return this.waitForSlot(bucket, peer, max);
      if (bucket.connecting === null) {
        const opening = this.open(key, peer);
        bucket.connecting = opening;
        let got: H2Session | HttpConnection;
        try {
          got = await opening;
        } finally {
          bucket.connecting = null;
          this.pruneIfEmpty(key, bucket);
        }
        return this.reserve(got);
      }
      const other = await bucket.connecting;
      // Someone else's handshake chose HTTP/1.1: this caller opens its own connection.
      if (!(other instanceof H2Session)) return this.reserve(await this.open(key, peer));
    }
  }

  /** Queues a caller until a slot comes free (or a session may be opened); rejects at the connect timeout. */
  private waitForSlot(bucket: H2Bucket, peer: PeerLike, max: number): Promise<H2Reservation | HttpConnection> {
    const timeoutMs = peer.connectionTimeoutMs ?? this.connectTimeoutMs;
    return new Promise((resolve, reject) => {
      const waiter: H2Waiter = {
        peer,
        max,
        resolve,
        reject,
        timer: setTimeout(() => {
          const at = bucket.waiters.indexOf(waiter);
          if (at >= 0) bucket.waiters.splice(at, 1);
          reject(
            ProxyError.upstream(
              'ConnectionLimitReached',
              `no free HTTP/2 stream to ${peer.address} within ${timeoutMs} ms (max ${max} connections)`,
              undefined,
              peer.address,
            ),
          );
        }, timeoutMs),
      };
      bucket.waiters.push(waiter);
    });
  }

  /** A slot came free on `h2`, or a session of its peer went away: serve the waiters that can go on. */
  private readonly serveWaiters = (h2: H2Session): void => {
    const bucket = this.buckets.get(h2.key);
    if (bucket === undefined || bucket.waiters.length === 0) return;
    while (bucket.waiters.length > 0) {
      const w = bucket.waiters[0] as H2Waiter;
      const slot = this.reuse(w.peer);
      // No slot, but a session is being opened (wait for it) or may be: `acquire` does either.
      const mayGo = slot === null && (bucket.connecting !== null || bucket.sessions.length < w.max);
      if (slot === null && !mayGo) return;
      bucket.waiters.shift();
      clearTimeout(w.timer);
      if (slot !== null) w.resolve(slot);
      else this.acquire(w.peer).then(w.resolve, w.reject);
    }
  };

  private reserve(got: H2Session | HttpConnection): H2Reservation | HttpConnection {
    if (!(got instanceof H2Session)) return got;
    this.streamCount++;
    return { session: got, reused: got.take() };
  }

  private bucketFor(key: string): H2Bucket {
    let bucket = this.buckets.get(key);
    if (bucket === undefined) {
      bucket = new H2Bucket();
      this.buckets.set(key, bucket);
    }
    return bucket;
  }

  /** Checks `target`'s deadline on every sweep tick (at least every `ms / 4`) until `unwatch`. */
  watch(target: TimeoutTarget, ms: number): void {
    this.timed.add(target);
    this.sweep.watch(ms);
  }

  unwatch(target: TimeoutTarget): void {
    this.timed.delete(target);
  }

  /** Closes every session: gracefully (streams finish) or at once. Resolves when all closed. */
  close(force: boolean): Promise<void> {
    this.closed = true;
    this.timed.clear();
    for (const bucket of this.buckets.values()) {
      for (const w of bucket.waiters.splice(0)) {
        clearTimeout(w.timer);
        w.reject(ProxyError.internal('InternalError', 'connection pool is closed'));
      }
    }
    for (const s of this.all) {
      s.closing = true;
      if (force) s.session.destroy();
      else s.session.close();
      if (s.session.destroyed) this.forget(s);
    }
    if (this.all.size === 0) {
      this.sweep.stop();
      return Promise.resolve();
    }
    return new Promise((resolve) => this.closedWaiters.push(resolve));
  }

  private async open(key: string, peer: PeerLike): Promise<H2Session | HttpConnection> {
    const proto = peerProtocol(peer);
    const addr = parsePeerAddress(peer.address);
    const timeoutMs = peer.connectionTimeoutMs ?? this.connectTimeoutMs;
    let socket: Socket;
    try {
      socket = await connect(peer, addr, timeoutMs, undefined, proto === 'h2' ? TLS_H2 : TLS_H2H1);
    } catch (err) {
      throw noCommonProtocol(err, peer) ?? err;
    }
    if (peer.tls) {
      const chosen = (socket as TLSSocket).alpnProtocol;
      if (chosen !== 'h2') {
        if (proto === 'h2h1') {
          this.h1Keys.add(key);
          return this.owner.adoptH1(peer, socket);
        }
        socket.destroy();
        throw ProxyError.upstream(
          'ConnectError',
          `upstream ${peer.address} did not negotiate HTTP/2 (ALPN chose ${chosen === false || chosen === undefined ? 'nothing' : chosen}); alpn h2 needs an HTTP/2 backend`,
          undefined,
          peer.address,
        );
      }
    }
    if (this.closed) {
      socket.destroy();
      throw ProxyError.internal('InternalError', 'connection pool is closed');
    }
    const authority = (peer.tls ? 'https://' : 'http://') + peer.address;
    const session = http2.connect(authority, { createConnection: () => socket });
    const h2 = new H2Session(session, key, peer.idleTimeoutMs ?? this.idleTimeoutMs, this.forget, this.serveWaiters);
    session.on('error', ignoreError); // failures reach the streams and the handlers below
    try {
      await firstSettings(h2, peer, timeoutMs);
    } catch (err) {
      session.destroy();
      throw err;
    }
    this.newCount++;
    this.all.add(h2);
    this.bucketFor(key).sessions.push(h2);
    session.on('remoteSettings', (settings: http2.Settings) => {
      h2.maxStreams = settings.maxConcurrentStreams ?? Infinity;
    });
    session.on('goaway', (_code: number, lastStreamId: number) => {
      this.dropFromBucket(h2);
      h2.onGoaway(lastStreamId);
    });
    session.on('error', () => {
      h2.closing = true; // 'close' follows; its streams hear of it themselves
    });
    session.once('close', () => this.forget(h2));
    this.sweep.watch(h2IdleTimeout(peer, this.idleTimeoutMs));
    return h2;
  }

  /** A session is gone (closed, or destroyed). */
  private readonly forget = (h2: H2Session): void => {
    h2.closing = true;
    if (!this.all.delete(h2)) return;
    this.dropFromBucket(h2);
    if (this.closed && this.all.size === 0) {
      this.sweep.stop();
      for (const done of this.closedWaiters.splice(0)) done();
    }
  };

  private dropFromBucket(h2: H2Session): void {
    const bucket = this.buckets.get(h2.key);
    if (bucket === undefined) return;
    const at = bucket.sessions.indexOf(h2);
    if (at >= 0) bucket.sessions.splice(at, 1);
    this.serveWaiters(h2); // one session fewer: a waiter may open another
    this.pruneIfEmpty(h2.key, bucket);
  }

  private pruneIfEmpty(key: string, bucket: H2Bucket): void {
    if (bucket.sessions.length === 0 && bucket.connecting === null && bucket.waiters.length === 0 && this.buckets.get(key) === bucket) {
      this.buckets.delete(key);
    }
  }
}

function ignoreError(): void {}

function noop(): void {}

/** A TLS handshake refused because the peer speaks none of the offered protocols, said clearly; else null. */
function noCommonProtocol(err: unknown, peer: PeerLike): ProxyError | null {
  const cause = (err as { cause?: { code?: string } }).cause;
  if (cause?.code !== 'ERR_SSL_TLSV1_ALERT_NO_APPLICATION_PROTOCOL') return null;
  return ProxyError.upstream(
    'ConnectError',
    `upstream ${peer.address} did not negotiate HTTP/2 (ALPN chose nothing: it refused ${peerProtocol(peer) === 'h2' ? 'h2' : 'h2 and http/1.1'}); alpn h2 needs an HTTP/2 backend`,
    cause,
    peer.address,
  );
}

function h2IdleTimeout(peer: PeerLike, fallback: number): number {
  return peer.idleTimeoutMs ?? fallback;
}

/** Waits for the peer's first SETTINGS (its stream limit); a peer that is not HTTP/2 fails here. */
function firstSettings(h2: H2Session, peer: PeerLike, timeoutMs: number): Promise<void> {
  const session = h2.session;
  return new Promise<void>((resolve, reject) => {
    let timer: NodeJS.Timeout | undefined;
    const done = (err: ProxyError | null): void => {
      if (timer !== undefined) clearTimeout(timer);
      session.removeListener('remoteSettings', onSettings);
      session.removeListener('error', onError);
      session.removeListener('close', onClose);
      if (err === null) resolve();
      else reject(err);
    };
    const notH2 = (why: string, cause?: unknown): ProxyError =>
      ProxyError.upstream(
        'ConnectError',
        `upstream ${peer.address} did not answer as HTTP/2 (${peer.tls ? 'TLS' : 'h2c prior knowledge'}): ${why}`,
        cause,
        peer.address,
      );
    const onSettings = (settings: http2.Settings): void => {
      h2.maxStreams = settings.maxConcurrentStreams ?? Infinity;
      done(null);
    };
    const onError = (err: Error): void => done(notH2(err.message, err));
    const onClose = (): void => done(notH2('the connection closed before its SETTINGS'));
    session.once('remoteSettings', onSettings);
    session.once('error', onError);
    session.once('close', onClose);
    if (timeoutMs > 0) timer = setTimeout(() => done(notH2(`no SETTINGS within ${timeoutMs} ms`)), timeoutMs);
  });
}
