/**
 * What the pool needs to know about an upstream peer, and the key that says when two peers
 * may share connections (Pingora's `Peer::reuse_hash`).
 *
 * `@pingora-ts/proxy`'s `HttpPeer` satisfies this shape; any object with these fields works.
 */
export interface PeerLike {
  /** `"host:port"`; an IPv6 host is bracketed: `"[::1]:8080"`. */
  readonly address: string;
  /** Connect with TLS. */
  readonly tls: boolean;
  /** TLS server name (SNI). Empty: the host of `address` when it is a name, none for an IP. */
  readonly sni: string;
  /** TLS: reject a certificate that does not chain to a trusted CA. Default `true`. */
  readonly verifyCert?: boolean;
  /** TLS: reject a certificate whose names do not match `sni` (or `alternativeCn`). Default `true`. */
  readonly verifyHostname?: boolean;
  /** TLS: another name the certificate may carry instead of `sni`. */
  readonly alternativeCn?: string;
  /** TLS: extra trusted CA certificates (PEM). Part of the key through `caKey`. */
  readonly ca?: string | Buffer;
  /** An identity for `ca` (or a client certificate) so that the key stays a short string. */
  readonly caKey?: string;
  /** Anything else that must keep two otherwise equal peers apart (a tenant, a route). */
  readonly groupKey?: string;
  /** Overrides the pool's `connectTimeoutMs` for this peer. */
  readonly connectionTimeoutMs?: number;
  /** Overrides the pool's `idleTimeoutMs` for this peer's idle connections. */
  readonly idleTimeoutMs?: number;
  /**
   * Overrides the pool's `maxConnections` for this peer's key: a positive integer. Read when the
   * pool starts tracking the key (first use, or first use after the key's connections all closed).
   */
  readonly maxConnections?: number;
  /**
   * The protocol spoken to the peer: `'h1'` (default), `'h2'` (TLS: ALPN offers only `h2`;
   * plain: h2c with prior knowledge) or `'h2h1'` (TLS: ALPN offers both and prefers `h2`; plain: `h1`).
   */
  readonly alpn?: UpstreamAlpn;
  /** A key computed once by the peer's owner (e.g. `HttpPeer`); must equal `peerKey(peer)`. */
  readonly poolKey?: string;
}

/** The upstream protocol choices of a peer (see `PeerLike.alpn`). */
export type UpstreamAlpn = 'h1' | 'h2' | 'h2h1';

/** The protocol actually asked of `peer`: `'h2h1'` without TLS is `'h1'`. */
export function peerProtocol(peer: PeerLike): UpstreamAlpn {
  const alpn = peer.alpn;
  if (alpn === undefined || alpn === 'h1') return 'h1';
  return alpn === 'h2h1' && !peer.tls ? 'h1' : alpn;
}

/**
 * The reuse key of a peer: two peers with the same key may share a connection.
 *
 * Plain TCP peers are told apart by protocol (`alpn`), address and `groupKey`; TLS peers also
 * by SNI, the verify flags, `alternativeCn` and `caKey`. Compute it once per peer, not per request.
 */
export function peerKey(peer: PeerLike): string {
  const group = peer.groupKey === undefined ? '' : peer.groupKey;
  const proto = peerProtocol(peer);
  // h1 keys stay as they were; other protocols never share a key with h1.
  const scheme = proto === 'h1' ? '' : proto + '+';
  if (!peer.tls) return scheme + 'http|' + peer.address + '|' + group;
  return (
    scheme +
    'https|' +
    peer.address +
    '|' +
    group +
    '|' +
    peer.sni +
    '|' +
    (peer.verifyCert === false ? '0' : '1') +
    (peer.verifyHostname === false ? '0' : '1') +
    '|' +
    (peer.alternativeCn ?? '') +
    '|' +
    (peer.caKey ?? '')
  );
}

/** A peer address split into host and port. */
export interface PeerAddress {
  host: string;
  port: number;
}

/**
 * Splits `"host:port"` or `"[v6]:port"`. Throws a `TypeError` naming the address when it is
 * not of that form or the port is not 1..65535.
 */
export function parsePeerAddress(address: string): PeerAddress {
  let host: string;
  let portText: string;
  if (address.charCodeAt(0) === 91 /* [ */) {
    const close = address.indexOf(']');
    if (close < 0 || address.charCodeAt(close + 1) !== 58 /* : */) throw badAddress(address);
    host = address.slice(1, close);
    portText = address.slice(close + 2);
  } else {
    const colon = address.lastIndexOf(':');
    if (colon <= 0 || address.indexOf(':') !== colon) throw badAddress(address);
    host = address.slice(0, colon);
    portText = address.slice(colon + 1);
  }
  if (host.length === 0 || portText.length === 0 || portText.length > 5) throw badAddress(address);
  let port = 0;
  for (let i = 0; i < portText.length; i++) {
    const c = portText.charCodeAt(i) - 48;
    if (c < 0 || c > 9) throw badAddress(address);
    port = port * 10 + c;
  }
  if (port < 1 || port > 65535) throw badAddress(address);
  return { host, port };
}

function badAddress(address: string): TypeError {
  return new TypeError(`invalid peer address "${address}": expected "host:port" or "[ipv6]:port"`);
}
