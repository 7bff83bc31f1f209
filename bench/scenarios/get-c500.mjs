import { wrk } from '../lib/wrk.mjs';

/** @type {import('./scenario.mjs').LoadScenario} */
export default {
  name: 'get-c500',
  title: 'keep-alive small GET, c=500',
  measures: 'the same with 500 client connections: more sockets per event-loop turn, and more than the upstream pools hold',
  order: 20,
  connections: 500,
  payload: 'GET /, 6-byte response',
  load: (t) => wrk(t, { connections: 500 }),
};
