// What a peer is. A peer is one proxy (or none, for `direct`) that the harness starts, measures
// and stops. Adding one = one file exporting a `Peer`, listed in `peers/index.mjs`.

/**
 * @typedef {object} PeerContext
 * @property {import('../lib/process-group.mjs').ProcessGroup} group  start children only through it
 * @property {string} dir                          a temp dir (removed at exit)
 * @property {number} port                         the free 127.0.0.1 port to listen on
 * @property {{ port: number }} upstream           the shared upstream (see upstream.mjs)
 * @property {TlsListen} [tls]                     given to a peer with `tls: true` when the run has a TLS scenario
 */

/**
 * A second listener, next to the plain one: HTTPS on `port` with the run's one certificate.
 * Peers keep TLS settings alike: TLS 1.2 and 1.3, the library's default ciphers and curves,
 * session tickets on, no server-side session cache (what node:tls does by default).
 * @typedef {object} TlsListen
 * @property {number} port      the free 127.0.0.1 port for HTTPS
 * @property {string} certPath  PEM certificate (see lib/tls-cert.mjs)
 * @property {string} keyPath   PEM private key
 */

/**
 * @typedef {object} PeerProcess  what `start` returns
 * @property {import('../lib/process-group.mjs').Started} [proc]  the proxy process (absent for `direct`)
 * @property {number} [port]                      where to send load, when not `ctx.port`
 * @property {() => Promise<PoolStats | null>} [finalStats]  read once the process has stopped
 * @property {string} [logFile]                  a log to quote when the peer fails to start
 * @property {number} [h1Port]                    a second listener speaking HTTP/1.1, when `port` speaks only h2c
 */

/**
 * @typedef {object} PoolStats
 * @property {'pool stats' | 'access log'} source
 * @property {number} newConnections
 * @property {number} reusedConnections
 * @property {{ newConnections: number, reusedConnections: number }} [accessLog]  the access log's count too, when both exist
 */

/**
 * @typedef {object} Peer
 * @property {string} name        id for --peers and the JSON
 * @property {string} label       shown in tables
 * @property {string} cpus        taskset list the proxy is pinned to
 * @property {string} config      one line on how it is set up (goes into the report)
 * @property {string[]} [needs]   commands that must exist (else the peer is skipped)
 * @property {boolean} [isProxy]  false for `direct` (no process of its own)
 * @property {boolean} [tls]      it can also serve HTTPS (`ctx.tls`): the TLS scenarios run against it
 * @property {() => string | null} [missing]   another reason to skip it, or null
 * @property {(ctx: PeerContext) => Promise<PeerProcess>} start
 * @property {(port: number, proc?: import('../lib/process-group.mjs').Started) => Promise<void>} [ready]
 *   resolves once the peer serves what its scenario needs (default: GET / answers 200), rejects
 *   with why not: a protocol peer probes with one real call (h2c GET, gRPC call, WebSocket echo)
 */

export {};
