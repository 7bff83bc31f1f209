/**
 * The `UpstreamConnector` the proxy uses: it sends each peer's requests over the protocol the
 * peer asks for (`HttpPeer.protocol`), so `Attempt` never asks. HTTP/1.1 peers get the pool's
 * connections (`Http1Connector`); HTTP/2 peers a stream of a shared session (`pool.h2`). An
 * `h2h1` TLS peer whose handshake chose `http/1.1` gets an HTTP/1.1 session on that connection,
 * and the HTTP/1.1 pool from then on (`pool.h2.prefersH1`).
 */
import { HttpConnection, type ConnectionPool } from '@pingora-ts/pool';
import type { HttpPeer } from '../http-peer';
import { Http1Connector, Http1UpstreamSession } from './http1-upstream-session';
import { Http2UpstreamSession } from './http2-upstream-session';
import type { UpstreamConnector, UpstreamSession } from './upstream-session';

export class ProtocolConnector implements UpstreamConnector {
  private readonly h1: Http1Connector;

  constructor(private readonly pool: ConnectionPool) {
    this.h1 = new Http1Connector(pool);
  }

  reuse(peer: HttpPeer): UpstreamSession | null {
    if (this.speaksH1(peer)) return this.h1.reuse(peer);
    const slot = this.pool.h2.reuse(peer);
    return slot === null ? null : new Http2UpstreamSession(this.pool.h2, slot, peer);
  }

  async connect(peer: HttpPeer): Promise<UpstreamSession> {
    if (this.speaksH1(peer)) return this.h1.connect(peer);
    const got = await this.pool.h2.acquire(peer);
    if (got instanceof HttpConnection) return new Http1UpstreamSession(this.pool, got, peer);
    return new Http2UpstreamSession(this.pool.h2, got, peer);
  }

  private speaksH1(peer: HttpPeer): boolean {
    const p = peer.protocol;
    return (p !== 'h2' && p !== 'h2h1') || this.pool.h2.prefersH1(peer);
  }
}
