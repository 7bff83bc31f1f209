// gRPC unary calls through the proxy, against the same calls made straight to the server.
import { nodeClient } from '../lib/node-client.mjs';
import { startOwnPeers } from '../lib/own-peers.mjs';
import { grpcPeers } from '../peers/grpc-peers.mjs';

const CONCURRENCY = 50;

/** @type {import('../scenarios/scenario.mjs').LoadScenario} */
export default {
  name: 'grpc-unary',
  title: 'gRPC unary, 50 concurrent calls on one channel',
  measures: 'gRPC calls/s through the proxy (h2c both ways) against the same client calling the server directly',
  order: 56,
  optional: true,
  connections: 1,
  payload: `${CONCURRENCY} unary calls in flight on one @grpc/grpc-js channel, a 16-byte echo each`,
  unit: 'calls/s',
  reference: 'direct',
  needs: [],
  setup: (ctx) => startOwnPeers(ctx, { peers: grpcPeers({ baseline: ctx.opts.baseline }), reference: 'direct', server: 'grpc-echo-server.mjs' }),
  load: (t) => nodeClient('grpc-unary-client.mjs', [String(CONCURRENCY)], t),
  notes: [
    'client: @grpc/grpc-js in its own process on CPU 0; server: @grpc/grpc-js (h2c) on CPU 0; the proxy alone on CPU 1',
    'ratios are to direct (the client calling the server itself); target in issue 11: pingora-ts ≥ 1.0x direct',
    'errors are calls that ended with a non-OK status',
  ],
};
