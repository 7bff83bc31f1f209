/**
 * Where and how a request is sent upstream, after Pingora's `HttpPeer` + `PeerOptions`.
 * `upstreamPeer` returns one per attempt. Build peers once (per backend) when you can: the
 * pool key is computed in the constructor.
 */
import { parsePeerAddress, peerKey, peerProtocol, type PeerLike, type UpstreamAlpn } from '@pingora-ts/pool';

export interface PeerOptions {
  /** TCP (and TLS) connect timeout. `undefined`: the pool's `connectTimeoutMs` (5 s by default). */
  connectionTimeoutMs: number | undefined;
  /** Longest wait for the response head, and between two body chunks. 0: none. Default 60000 (504 when exceeded). */
  readTimeoutMs: number;
  /** Longest stall while the request (head and body) is written upstream. 0: none. Default 0. */
  writeTimeoutMs: number;
  /** How long this peer's connections may idle in the pool. `undefined`: the pool's `idleTimeoutMs`. */
  idleTimeoutMs: number | undefined;
  /** TLS: reject certificates that do not chain to a trusted CA. Default `true`. */
  verifyCert: boolean;
  /** TLS: reject certificates whose names do not match the SNI. Default `true`. */
  verifyHostname: boolean;
  /** TLS: another name the certificate may carry instead of the SNI. Default `''`. */
  alternativeCn: string;
  /** TLS: extra trusted CA certificates (PEM). */
  ca: string | Buffer | undefined;
  /** A name for `ca`, kept in the pool key so peers with other CAs do not share connections. Default `''`. */
  caKey: string;
  /** Keeps this peer's connections apart from other peers with the same address. Default `''`. */
  groupKey: string;
  /**
   * Most connections to this peer, idle + in use + connecting; a request over it waits (up to
   * the connect timeout, then 503 `ConnectionLimitReached`). `undefined`: the pool's `maxConnections`.
   */
  maxConnections: number | undefined;
  /**
   * The protocol spoken upstream. `'h1'` (default): HTTP/1.1. `'h2'`: HTTP/2 (TLS: ALPN offers
   * only `h2`, a backend that picks anything else is a 502; plain: h2c with prior knowledge).
   * `'h2h1'`: TLS ALPN offers `[h2, http/1.1]` and the backend's choice is used; without TLS it is `'h1'`.
   * HTTP/2 streams share one session per peer (another opens at the peer's `maxConcurrentStreams`);
   * `maxConnections` caps the sessions, and a stream over them waits for a slot as above.
   */
  alpn: UpstreamAlpn;
}

const DEFAULT_PEER_OPTIONS: PeerOptions = {
  connectionTimeoutMs: undefined,
  readTimeoutMs: 60_000,
  writeTimeoutMs: 0,
  idleTimeoutMs: undefined,
  verifyCert: true,
  verifyHostname: true,
  alternativeCn: '',
  ca: undefined,
  caKey: '',
  groupKey: '',
  maxConnections: undefined,
  alpn: 'h1',
};

const OPTION_KEYS = new Set(Object.keys(DEFAULT_PEER_OPTIONS));

export class HttpPeer implements PeerLike {
  /** `"host:port"` (IPv6: `"[::1]:port"`). */
  readonly address: string;
  readonly host: string;
  readonly port: number;
  readonly tls: boolean;
  readonly sni: string;
  readonly options: Readonly<PeerOptions>;
  /** The pool's reuse key for this peer (see `peerKey`). */
  readonly poolKey: string;
  /** The protocol asked of the peer: `options.alpn`, except that `'h2h1'` without TLS is `'h1'`. */
  readonly protocol: UpstreamAlpn;

  /**
   * @param address `"host:port"`; throws a `TypeError` when it is not.
   * @param tls connect with TLS.
   * @param sni TLS server name; `''` uses the host when it is a name.
   * @param options see `PeerOptions`; unknown keys throw, `undefined` values keep the default.
   */
  constructor(address: string, tls = false, sni = '', options: Partial<PeerOptions> = {}) {
    for (const k of Object.keys(options)) {
      if (!OPTION_KEYS.has(k)) throw new TypeError(`unknown PeerOptions key "${k}" (known: ${[...OPTION_KEYS].join(', ')})`);
    }
    const parsed = parsePeerAddress(address);
    this.address = address;
    this.host = parsed.host;
    this.port = parsed.port;
    this.tls = tls;
    this.sni = sni;
    const opts: PeerOptions = { ...DEFAULT_PEER_OPTIONS };
    for (const k of Object.keys(options) as Array<keyof PeerOptions>) {
      const v = options[k];
      if (v !== undefined) (opts as unknown as Record<string, unknown>)[k] = v; // undefined: keep the default
    }
    for (const k of ['connectionTimeoutMs', 'readTimeoutMs', 'writeTimeoutMs', 'idleTimeoutMs'] as const) {
      const v = opts[k];
      if (v !== undefined && (!Number.isFinite(v) || v < 0)) throw new TypeError(`PeerOptions.${k} must be a number >= 0, got ${String(v)}`);
    }
    const max = opts.maxConnections;
    if (max !== undefined && (!Number.isInteger(max) || max < 1)) throw new TypeError(`PeerOptions.maxConnections must be an integer >= 1, got ${String(max)}`);
    if (opts.alpn !== 'h1' && opts.alpn !== 'h2' && opts.alpn !== 'h2h1') throw new TypeError(`PeerOptions.alpn must be "h1", "h2" or "h2h1", got ${String(opts.alpn)}`);
    this.options = Object.freeze(opts);
    this.protocol = peerProtocol(this);
    this.poolKey = peerKey(this);
  }

  get connectionTimeoutMs(): number | undefined {
    return this.options.connectionTimeoutMs;
  }
  get idleTimeoutMs(): number | undefined {
    return this.options.idleTimeoutMs;
  }
  get verifyCert(): boolean {
    return this.options.verifyCert;
  }
  get verifyHostname(): boolean {
    return this.options.verifyHostname;
  }
  get alternativeCn(): string {
    return this.options.alternativeCn;
  }
  get ca(): string | Buffer | undefined {
    return this.options.ca;
  }
  get caKey(): string {
    return this.options.caKey;
  }
  get groupKey(): string {
    return this.options.groupKey;
  }
  get maxConnections(): number | undefined {
    return this.options.maxConnections;
  }
  get alpn(): UpstreamAlpn {
    return this.options.alpn;
  }

  toString(): string {
    return (this.tls ? 'https://' : 'http://') + this.address;
  }
}
