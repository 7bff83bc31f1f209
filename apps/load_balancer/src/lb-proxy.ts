import { ProxyError } from '@pingora-ts/core';
import type { Backend, LoadBalancer } from '@pingora-ts/load-balancing';
import type { AccessLogger } from '@pingora-ts/observability';
import { HttpPeer, type ProxyHttp, type Session } from '@pingora-ts/proxy';
import type { UpstreamsConf } from './lb-conf';

/** Extra CAs trusted by a service's TLS upstreams (`ca_file` and `ca_path`), and a name for them in the pool key. */
export interface UpstreamTrust {
  pem: string;
  key: string;
}

/** Per-request state: the backends this request has tried, so a retry goes elsewhere. */
export interface LbCtx {
  tried: Backend[];
}

/** How many candidates one selection may look at before giving up. */
const MAX_ITERATIONS = 256;

/**
 * The quick-start load balancer's `ProxyHttp`: round robin (or random) over healthy
 * backends, a retry goes to a backend not tried yet, one access log line per request.
 */
export class LbProxy implements ProxyHttp<LbCtx> {
  readonly #lb: LoadBalancer;
  readonly #access: AccessLogger;
  readonly #peerOptions: ConstructorParameters<typeof HttpPeer>[3];
  readonly #tls: UpstreamsConf['tls'];
  // One HttpPeer per backend, made once: the peer (and its pool key) is not rebuilt per request.
  readonly #peers = new Map<string, HttpPeer>();

  /** `trust`: the CAs of `ca_file` and `upstreams.tls.ca_path`, read (and checked) by the caller. */
  constructor(lb: LoadBalancer, upstreams: UpstreamsConf, access: AccessLogger, trust?: UpstreamTrust) {
    this.#lb = lb;
    // Peers of backends that left (file or DNS discovery) are dropped, so churn does not grow the map.
    lb.on('change', () => {
      for (const addr of this.#peers.keys()) if (lb.backends().get(addr) === undefined) this.#peers.delete(addr);
    });
    this.#access = access;
    this.#tls = upstreams.tls;
    const tls = upstreams.tls;
    this.#peerOptions = {
      connectionTimeoutMs: upstreams.connection_timeout_ms,
      readTimeoutMs: upstreams.read_timeout_ms,
      idleTimeoutMs: upstreams.idle_timeout_ms,
      maxConnections: upstreams.max_connections,
      alpn: upstreams.alpn,
      ...(tls === undefined ? {} : { verifyCert: tls.verify_cert, verifyHostname: tls.verify_hostname }),
      // The CA paths are part of the pool key: peers trusting other CAs never share a connection.
      ...(trust === undefined ? {} : { ca: trust.pem, caKey: trust.key }),
    };
  }

  newCtx(): LbCtx {
    return { tried: [] };
  }

  upstreamPeer(_session: Session, ctx: LbCtx): HttpPeer {
    const tried = ctx.tried;
    const backend =
      (tried.length === 0 ? null : this.#lb.selectWith('', MAX_ITERATIONS, (b, healthy) => healthy && !tried.includes(b))) ??
      this.#lb.select('', MAX_ITERATIONS);
    if (backend === null) throw ProxyError.upstream('NoHealthyUpstream', 'no healthy backend');
    tried.push(backend);
    let peer = this.#peers.get(backend.addr);
    if (peer === undefined) {
      peer = new HttpPeer(backend.addr, this.#tls !== undefined, this.#tls?.sni ?? '', this.#peerOptions);
      this.#peers.set(backend.addr, peer);
    }
    return peer;
  }

  logging(session: Session, e: ProxyError | null): void {
    if (!this.#access.enabled) return;
    const upstream = session.upstream;
    const tunnel = session.tunnel;
    this.#access.log({
      method: session.method,
      path: session.path,
      status: session.status,
      // A WebSocket's line comes when it closed: the bytes it carried to the client.
      bytes: tunnel === null ? session.bytesSent : tunnel.bytesDown,
      durationMs: session.durationMs(),
      client: session.clientAddr,
      upstream: upstream?.address ?? null,
      reused: upstream?.reused ?? null,
      retries: session.retries,
      error: e?.kind ?? null,
    });
  }
}
