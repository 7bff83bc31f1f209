/**
 * Opens one TCP (or TLS) connection to a peer, mapping failures to `ProxyError` kinds
 * (`ConnectRefused`, `ConnectTimedout`, `ConnectError`).
 */
import * as net from 'node:net';
import * as tls from 'node:tls';
import { ProxyError } from '@pingora-ts/core';
import type { PeerAddress, PeerLike } from './peer-like';

/**
 * Resolves with a connected socket (TLS handshake done) or rejects with a `ProxyError`.
 * `onread` (plain TCP only: TLS sockets have no such option) reads into a caller's buffer
 * instead of a new one per read; the socket then emits no `data` events. `alpn`: the protocols
 * offered by TLS ALPN, in order of preference (default `['http/1.1']`).
 */
export function connect(peer: PeerLike, addr: PeerAddress, timeoutMs: number, onread?: net.OnReadOpts, alpn: string[] = HTTP1_ONLY): Promise<net.Socket> {
  return new Promise<net.Socket>((resolve, reject) => {
    const socket = peer.tls
      ? tls.connect(tlsOptions(peer, addr, alpn))
      : net.connect({ host: addr.host, port: addr.port, noDelay: true, ...(onread === undefined ? {} : { onread }) });
    let timer: NodeJS.Timeout | undefined;
    const done = (err: ProxyError | null): void => {
      if (timer !== undefined) clearTimeout(timer);
      socket.removeListener('error', onError);
      socket.removeListener(peer.tls ? 'secureConnect' : 'connect', onConnect);
      if (err === null) {
        resolve(socket);
      } else {
        socket.destroy();
        reject(err);
      }
    };
    const onConnect = (): void => done(null);
    const onError = (err: NodeJS.ErrnoException): void => done(connectError(err, peer.address));
    socket.once(peer.tls ? 'secureConnect' : 'connect', onConnect);
    socket.once('error', onError);
    if (timeoutMs > 0) {
      timer = setTimeout(() => {
        done(ProxyError.upstream('ConnectTimedout', `connect to ${peer.address} timed out after ${timeoutMs} ms`, undefined, peer.address));
      }, timeoutMs);
    }
  });
}

/**
 * Node's `ca` option replaces its default CAs and is parsed again on every connect. A peer's
 * `ca` is *extra* CAs: one SecureContext per bundle, made once from Node's defaults plus the
 * bundle, gives that, and costs nothing per connection.
 */
const trustContexts = new Map<string | Buffer, tls.SecureContext>();
function trustContext(ca: string | Buffer): tls.SecureContext {
  let ctx = trustContexts.get(ca);
  if (ctx === undefined) {
    ctx = tls.createSecureContext({ ca: [...tls.rootCertificates, typeof ca === 'string' ? ca : ca.toString('utf8')] });
    trustContexts.set(ca, ctx);
  }
  return ctx;
}

const HTTP1_ONLY = ['http/1.1'];

function tlsOptions(peer: PeerLike, addr: PeerAddress, alpn: string[]): tls.ConnectionOptions {
  const servername = peer.sni !== '' ? peer.sni : net.isIP(addr.host) === 0 ? addr.host : undefined;
  const opts: tls.ConnectionOptions = {
    host: addr.host,
    port: addr.port,
    servername,
    ALPNProtocols: alpn,
    rejectUnauthorized: peer.verifyCert !== false,
  };
  if (peer.ca !== undefined) opts.secureContext = trustContext(peer.ca);
  if (peer.verifyHostname === false) {
    opts.checkServerIdentity = () => undefined;
  } else if (peer.alternativeCn !== undefined && peer.alternativeCn !== '') {
    const alt = peer.alternativeCn;
    opts.checkServerIdentity = (host, cert) => {
      const first = tls.checkServerIdentity(host, cert);
      return first === undefined ? undefined : tls.checkServerIdentity(alt, cert);
    };
  }
  return opts;
}

/** Maps a socket error raised while connecting to the matching `ProxyError` kind. */
export function connectError(err: NodeJS.ErrnoException, address: string): ProxyError {
  switch (err.code) {
    case 'ECONNREFUSED':
      return ProxyError.upstream('ConnectRefused', `connect to ${address} refused`, err, address);
    case 'ETIMEDOUT':
      return ProxyError.upstream('ConnectTimedout', `connect to ${address} timed out`, err, address);
    default:
      return ProxyError.upstream('ConnectError', `connect to ${address} failed: ${err.message}`, err, address);
  }
}
