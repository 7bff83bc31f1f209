// Starts a peer and waits until it proxies a GET; any failure is a reason to skip, not a crash.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { freePort } from './free-port.mjs';
import { tail, waitForHttp, waitForHttps } from './wait-for-http.mjs';

/**
 * @typedef {object} RunningPeer
 * @property {import('../peers/peer.mjs').Peer} peer
 * @property {number} port
 * @property {import('./process-group.mjs').Started | undefined} proc
 * @property {() => number | undefined} pid   the proxy's main pid (undefined for direct)
 * @property {() => Promise<import('../peers/peer.mjs').PoolStats | null>} [finalStats]
 * @property {{ port: number, negotiated: string }} [tls]  its HTTPS listener, when it has one, and what a TLS client got there
 * @property {string} [tlsError]  why its HTTPS listener does not answer (it still runs the plain scenarios)
 * @property {number} [h1Port]     its HTTP/1.1 listener when `port` speaks only h2c (nginx 1.22 `listen … http2`)
 */

/** Whether `cmd` is on PATH. */
export function hasCommand(/** @type {string} */ cmd) {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

/**
 * Why `peer` cannot run here, or null.
 * @param {import('../peers/peer.mjs').Peer} peer
 */
export function whyNot(peer) {
  const gone = (peer.needs ?? []).filter((c) => !hasCommand(c));
  if (gone.length > 0) return `${gone.join(', ')} not installed`;
  return peer.missing?.() ?? null;
}

/**
 * @param {import('../peers/peer.mjs').Peer} peer
 * @param {{ group: import('./process-group.mjs').ProcessGroup, dir: string, upstream: { port: number }, cert?: import('./tls-cert.mjs').TlsCert }} ctx
 *   cert: also start the peer's HTTPS listener (peers with `tls: true`) with this certificate
 * @returns {Promise<RunningPeer>} rejects with the reason it could not start (its process stopped)
 */
export async function startPeer(peer, ctx) {
  const reason = whyNot(peer);
  if (reason) throw new Error(reason);
  const { cert, ...rest } = ctx;
  const port = await freePort();
  const tls = cert && peer.tls ? { port: await freePort(), certPath: cert.certPath, keyPath: cert.keyPath } : undefined;
  const started = await peer.start({ ...rest, port, ...(tls ? { tls } : {}) });
  const proc = started.proc;
  /** @type {RunningPeer} */
  const running = {
    peer,
    port: started.port ?? port,
    proc,
    pid: () => proc?.pid,
    finalStats: started.finalStats,
    ...(started.h1Port ? { h1Port: started.h1Port } : {}),
  };
  try {
    await (peer.ready ? peer.ready(running.port, proc) : waitForHttp(running.port, { proc }));
  } catch (err) {
    // A peer that runs but fails its protocol probe has nothing to say in its log.
    const quote = !peer.ready || !proc?.alive();
    if (proc) await ctx.group.stop(proc, 1000);
    const log = quote && started.logFile && existsSync(started.logFile) ? tail(readFileSync(started.logFile, 'utf8'), 2) : '';
    throw new Error(`${/** @type {Error} */ (err).message}${log ? `; its log: ${log}` : ''}`, { cause: err });
  }
  // A broken HTTPS listener costs the TLS scenarios only, not the peer's other results.
  if (tls) {
    try {
      running.tls = { port: tls.port, negotiated: await waitForHttps(tls.port, { proc, timeoutMs: 5000 }) };
    } catch (err) {
      running.tlsError = /** @type {Error} */ (err).message;
    }
  }
  return running;
}
