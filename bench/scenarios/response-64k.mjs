import { wrk } from '../lib/wrk.mjs';

/** @type {import('./scenario.mjs').LoadScenario} */
export default {
  name: 'response-64k',
  title: '64 KiB response, c=50',
  measures: 'body streaming upstream -> client: a 64 KiB response on keep-alive connections',
  order: 40,
  connections: 50,
  payload: 'GET /64k, 65,536-byte response',
  load: (t) => wrk(t, { connections: 50, path: '/64k' }),
};
