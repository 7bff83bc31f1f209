// WebSocket echo through the proxy, against the same clients talking to the server directly.
import { nodeClient } from '../lib/node-client.mjs';
import { startOwnPeers } from '../lib/own-peers.mjs';
import { wsPeers } from '../peers/ws-peers.mjs';

const CONNECTIONS = 50;
const BYTES = 64;

/** @type {import('../scenarios/scenario.mjs').LoadScenario} */
export default {
  name: 'ws-echo',
  title: 'WebSocket echo, 50 connections, 64-byte messages',
  measures: 'WebSocket messages/s through the proxy (a tunnel after the upstream 101) against the same clients talking to the echo server directly',
  order: 57,
  optional: true,
  connections: CONNECTIONS,
  payload: `one ${BYTES}-byte binary message in flight per connection, the next sent when its echo is back`,
  unit: 'msgs/s',
  reference: 'direct',
  needs: [],
  setup: (ctx) => startOwnPeers(ctx, { peers: wsPeers({ baseline: ctx.opts.baseline }), reference: 'direct', server: 'ws-echo-server.mjs' }),
  load: (t) => nodeClient('ws-echo-client.mjs', [String(CONNECTIONS), String(BYTES)], t),
  notes: [
    'clients: `ws` in one process on CPU 0, all connections open before the clock starts; server: a `ws` echo server on CPU 0; the proxy alone on CPU 1',
    'a message counts once its echo is back; ratios are to direct; target in issue 11: pingora-ts ≥ 0.9x direct',
  ],
};
