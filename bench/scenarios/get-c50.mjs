import { wrk } from '../lib/wrk.mjs';

/** @type {import('./scenario.mjs').LoadScenario} */
export default {
  name: 'get-c50',
  title: 'keep-alive small GET, c=50',
  measures: 'per-request overhead of the proxy: 50 keep-alive client connections, a 6-byte response',
  order: 10,
  connections: 50,
  payload: 'GET /, 6-byte response',
  load: (t) => wrk(t, { connections: 50 }),
};
