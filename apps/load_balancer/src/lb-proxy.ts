import { ProxyError } from '@pingora-ts/core';
import type { Backend, LoadBalancer, RequestOutcome } from '@pingora-ts/load-balancing';
import type { AccessLogger } from '@pingora-ts/observability';
import { HttpPeer, type ProxyHttp, type ResponseHeader, type Session } from '@pingora-ts/proxy';
import { HashKey } from './hash-key';
import { HASHING_SELECTIONS, type UpstreamsConf } from './lb-conf';
import { rawHeader } from './raw-header';
import { outcomeOf, statusOutcome } from './request-outcome';

/** Extra CAs trusted by a service's TLS upstreams (`ca_file` and `ca_path`), and a name for them in the pool key. */
export interface UpstreamTrust {
  pem: string;
  key: string;
}

/** Per-request state: the backends tried (a retry goes elsewhere) and the attempt in flight. */
export interface LbCtx {
  /** Keys of the backends tried (a discovery update may replace the `Backend` objects meanwhile). */
  tried: string[];
  /** The backend of the attempt reported started and not yet ended, or `null`. */
  current: Backend | null;
  /** When `current`'s attempt started (`performance.now()`). */
  startedAt: number;
  /** Time from the start to its response head in ms, or -1 before the head. */
  headMs: number;
  /** Status of that response head. */
  headStatus: number;
}

/** How many candidates one selection may look at before giving up. */
const MAX_ITERATIONS = 256;

/**
 * The quick-start load balancer's `ProxyHttp`: the configured selection over healthy
 * backends (a request without the hash key selects with an empty key, which the load
 * balancer built by `buildLoadBalancer` sends round robin), a retry goes to a backend not
 * tried yet, one access log line per request.
 *
 * Each attempt is reported to the load balancer (`least_conn`, `p2c_ewma`, passive health):
 * `requestStarted` in `upstreamPeer`, and exactly one `requestEnded` when the attempt ends
 * (in `failToConnect`, `errorWhileProxy`, or `logging` for the attempt that finished the
 * request, or in the next `upstreamPeer` if an attempt ended through none of them). Its
 * outcome: the response head's status (`ok` / `http_5xx`), else the error's kind (see
 * `outcomeOf`); its latency runs to the response head, or to the failure.
 */
export class LbProxy implements ProxyHttp<LbCtx> {
  readonly #lb: LoadBalancer;
  /** What the selection hashes; `null` when it does not hash (no key is read). */
  readonly #hashKey: HashKey | null;
  readonly #access: AccessLogger;
  readonly #combined: boolean;
  readonly #peerOptions: ConstructorParameters<typeof HttpPeer>[3];
  readonly #tls: UpstreamsConf['tls'];
  // One HttpPeer per backend, made once: the peer (and its pool key) is not rebuilt per request.
  readonly #peers = new Map<string, HttpPeer>();
  /** Told the address of a backend whose attempt failed and is tried again (metrics). */
  onRetry: ((addr: string) => void) | null = null;

  /** `trust`: the CAs of `ca_file` and `upstreams.tls.ca_path`, read (and checked) by the caller. */
  constructor(lb: LoadBalancer, upstreams: UpstreamsConf, access: AccessLogger, trust?: UpstreamTrust) {
    this.#lb = lb;
    // Peers of backends that left (file or DNS discovery) are dropped, so churn does not grow the map.
    lb.on('change', () => {
      for (const addr of this.#peers.keys()) if (lb.backends().get(addr) === undefined) this.#peers.delete(addr);
    });
    this.#hashKey = HASHING_SELECTIONS.has(upstreams.selection) ? new HashKey(upstreams.hash_key ?? 'uri') : null;
    this.#access = access;
    this.#combined = access.format === 'combined';
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
    return { tried: [], current: null, startedAt: 0, headMs: -1, headStatus: 0 };
  }

  upstreamPeer(session: Session, ctx: LbCtx): HttpPeer {
    // An attempt that ended through no hook (the client left before it connected).
    if (ctx.current !== null) this.#ended(ctx, 'ok');
    const lb = this.#lb;
    // No key (or an empty one): the empty key, which the keyless selection serves.
    const key = this.#hashKey === null ? '' : (this.#hashKey.of(session) ?? '');
    const tried = ctx.tried;
    if (tried.length > 0) this.onRetry?.(tried[tried.length - 1] as string);
    const backend =
      (tried.length === 0 ? null : lb.selectWith(key, MAX_ITERATIONS, (b, healthy) => healthy && !tried.includes(b.key))) ??
      lb.select(key, MAX_ITERATIONS);
    if (backend === null) throw ProxyError.upstream('NoHealthyUpstream', 'no healthy backend');
    tried.push(backend.key);
    let peer = this.#peers.get(backend.addr);
    if (peer === undefined) {
      peer = new HttpPeer(backend.addr, this.#tls !== undefined, this.#tls?.sni ?? '', this.#peerOptions);
      this.#peers.set(backend.addr, peer);
    }
    ctx.current = backend;
    ctx.startedAt = performance.now();
    ctx.headMs = -1;
    this.#lb.requestStarted(backend);
    return peer;
  }

  failToConnect(_session: Session, _peer: HttpPeer, ctx: LbCtx, e: ProxyError): ProxyError {
    if (ctx.current !== null) this.#ended(ctx, outcomeOf(e, -1));
    return e;
  }

  upstreamResponseFilter(_session: Session, response: ResponseHeader, ctx: LbCtx): void {
    // The outcome is known at the head; the attempt stays in flight until its body is through.
    if (ctx.current !== null && ctx.headMs < 0) {
      ctx.headMs = performance.now() - ctx.startedAt;
      ctx.headStatus = response.status;
    }
  }

  errorWhileProxy(_peer: HttpPeer, _session: Session, e: ProxyError, ctx: LbCtx, clientReused: boolean): ProxyError {
    if (e.retry === 'reused-only') e.retry = clientReused; // the proxy's default
    if (ctx.current !== null) this.#ended(ctx, outcomeOf(e, ctx.headMs < 0 ? -1 : ctx.headStatus, clientReused));
    return e;
  }

  /** Reports the end of `ctx.current`'s attempt, once. */
  #ended(ctx: LbCtx, outcome: RequestOutcome): void {
    const backend = ctx.current as Backend;
    ctx.current = null;
    this.#lb.requestEnded(backend, outcome, ctx.headMs >= 0 ? ctx.headMs : performance.now() - ctx.startedAt);
  }

  logging(session: Session, e: ProxyError | null, ctx: LbCtx): void {
    if (ctx.current !== null) {
      const status = ctx.headMs < 0 ? -1 : ctx.headStatus;
      this.#ended(ctx, e === null ? statusOutcome(status) : outcomeOf(e, status));
    }
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
      ...(session.cache === null ? {} : { cache: session.cache.status }),
      // The combined format's request line and last two fields (the JSON line leaves them out).
      ...(this.#combined ? { httpVersion: session.httpVersion, referer: rawHeader(session.rawHeaders, 'referer'), userAgent: rawHeader(session.rawHeaders, 'user-agent') } : {}),
    });
  }
}
