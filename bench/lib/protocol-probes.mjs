// Readiness probes for the protocol scenarios: a peer is ready once it accepts TCP and then
// serves one real exchange of the scenario's protocol. A peer that listens but cannot speak
// the protocol (a build without h2c, gRPC or WebSocket support) fails the probe with the reason,
// and the scenario reports it as skipped.
import http2 from 'node:http2';
import { connect } from 'node:net';
import WebSocket from 'ws';
import { callOnce, echoClient } from './grpc-echo.mjs';
import { tail } from './wait-for-http.mjs';

const PROBE_TIMEOUT_MS = 3000;
/** How long a peer that accepts TCP gets to answer the probe (a backend may still be marked up). */
const PROBE_WINDOW_MS = 3000;
const sleep = (/** @type {number} */ ms) => new Promise((r) => setTimeout(r, ms));

/**
 * A `Peer.ready` that waits for TCP on the port, then for `probe` to pass.
 * @param {string} what      what the probe shows, for the error ("serve h2c")
 * @param {(port: number) => Promise<void>} probe
 * @returns {(port: number, proc?: import('./process-group.mjs').Started) => Promise<void>}
 */
export function probeReady(what, probe) {
  return async (port, proc) => {
    const alive = () => {
      if (proc && !proc.alive()) throw new Error(`exited with ${proc.child.exitCode ?? proc.child.signalCode}: ${tail(proc.output())}`);
    };
    const tcpDeadline = Date.now() + 15_000;
    for (;;) {
      alive();
      if (await tcpOpen(port)) break;
      if (Date.now() > tcpDeadline) throw new Error(`nothing listens on 127.0.0.1:${port} after 15 s`);
      await sleep(100);
    }
    const deadline = Date.now() + PROBE_WINDOW_MS;
    for (;;) {
      alive();
      try {
        return await probe(port);
      } catch (err) {
        if (Date.now() > deadline) throw new Error(`does not ${what}: ${/** @type {Error} */ (err).message}`, { cause: err });
      }
      await sleep(200);
    }
  };
}

/** Whether 127.0.0.1:port accepts a connection. @param {number} port @returns {Promise<boolean>} */
function tcpOpen(port) {
  return new Promise((resolve) => {
    const s = connect({ port, host: '127.0.0.1' });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/**
 * GET `path` over h2c (prior knowledge); resolves when it answers 200.
 * @param {number} port
 * @param {string} [path]
 * @returns {Promise<void>}
 */
export function h2cGet(port, path = '/') {
  return new Promise((resolve, reject) => {
    const session = http2.connect(`http://127.0.0.1:${port}`);
    const done = (/** @type {Error | undefined} */ err) => {
      clearTimeout(timer);
      session.destroy();
      if (err) reject(err);
      else resolve();
    };
    const timer = setTimeout(() => done(new Error(`no h2 answer within ${PROBE_TIMEOUT_MS} ms`)), PROBE_TIMEOUT_MS);
    session.on('error', (err) => done(err));
    session.on('goaway', (code) => done(new Error(`GOAWAY (error code ${code})`)));
    session.on('close', () => done(new Error('connection closed before an h2 answer')));
    const req = session.request({ ':path': path });
    req.on('response', (headers) => {
      const status = headers[':status'];
      if (status !== 200) return done(new Error(`h2 GET ${path} answered ${status}`));
      req.resume();
      req.on('end', () => done(undefined));
    });
    req.on('error', (err) => done(err));
    req.end();
  });
}

/** One gRPC unary echo call on a fresh channel. @param {number} port @returns {Promise<void>} */
export async function grpcCall(port) {
  const client = echoClient(port);
  try {
    await callOnce(client, Buffer.from('probe'), PROBE_TIMEOUT_MS);
  } finally {
    client.close();
  }
}

/** One WebSocket echo of a 64-byte message. @param {number} port @returns {Promise<void>} */
export function wsEcho(port) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/`, { perMessageDeflate: false });
    const msg = Buffer.alloc(64, 'p');
    const done = (/** @type {Error | undefined} */ err) => {
      clearTimeout(timer);
      ws.terminate();
      if (err) reject(err);
      else resolve();
    };
    const timer = setTimeout(() => done(new Error(`no echo within ${PROBE_TIMEOUT_MS} ms`)), PROBE_TIMEOUT_MS);
    ws.on('open', () => ws.send(msg));
    ws.on('message', (data) => done(Buffer.isBuffer(data) && data.equals(msg) ? undefined : new Error('the echo differs from the message')));
    ws.on('error', (err) => done(err));
    ws.on('close', (code) => done(new Error(`closed (${code}) before the echo`)));
  });
}
