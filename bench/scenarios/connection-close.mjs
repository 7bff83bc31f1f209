import { wrk } from '../lib/wrk.mjs';

/** @type {import('./scenario.mjs').LoadScenario} */
export default {
  name: 'connection-close',
  title: 'new client connection per request, c=50',
  measures: 'accept + close cost: every request on a new client connection (Connection: close); the upstream side may still be reused',
  order: 30,
  connections: 50,
  payload: 'GET /, 6-byte response, Connection: close',
  load: (t) => wrk(t, { connections: 50, headers: { Connection: 'close' } }),
  notes: [
    'errors for @fastify/http-proxy here come from the peer: it copies the upstream\'s `connection: keep-alive` into its answer to a `Connection: close` request, ' +
      'so wrk sends the next request on that connection and gets a 400 and a close (wrk counts those 400s in req/s too)',
  ],
};
