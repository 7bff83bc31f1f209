import { wrk } from '../lib/wrk.mjs';

/** @type {import('./scenario.mjs').LoadScenario} */
export default {
  name: 'upload-1m',
  title: '1 MiB POST upload, c=10',
  measures: 'body streaming client -> upstream: a 1 MiB request body into a sink that answers 200',
  order: 50,
  connections: 10,
  payload: 'POST /upload, 1,048,576-byte body, 3-byte response',
  load: (t) => wrk(t, { connections: 10, path: '/upload', method: 'POST', bodyBytes: 1024 * 1024 }),
};
