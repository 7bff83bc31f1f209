// Small GET over HTTP/2 cleartext (prior knowledge), HTTP/1.1 keep-alive to the run's upstream.
import { h2load } from '../lib/h2load.mjs';
import { startOwnPeers } from '../lib/own-peers.mjs';
import { h2cPeers } from '../peers/h2c-peers.mjs';

/** @type {import('../scenarios/scenario.mjs').LoadScenario} */
export default {
  name: 'h2-get',
  title: 'h2c small GET, 10 connections × 10 streams',
  measures: 'per-request overhead of the proxy over HTTP/2: h2c by prior knowledge from the client, HTTP/1.1 keep-alive to the upstream, a 6-byte response',
  order: 55,
  connections: 10,
  payload: 'GET /, 6-byte response, 10 concurrent streams per connection',
  needs: ['h2load'],
  setup: (ctx) => startOwnPeers(ctx, { peers: h2cPeers({ baseline: ctx.opts.baseline }), reference: 'nginx' }),
  load: (t) => h2load(t, { clients: 10, streams: 10 }),
  notes: [
    'each peer is a private instance for this scenario: nginx `listen … http2` (1.22 serves h2c by prior knowledge only there), HAProxy `bind … proto h2`, pingora-ts its usual cleartext listener (h2c on by default)',
    'latency percentiles come from h2load --log-file (one line per request)',
    'target in issue 11: pingora-ts ≥ 0.35x nginx',
  ],
};
