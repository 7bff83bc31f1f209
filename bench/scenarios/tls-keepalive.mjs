import { cpuPerRequestNotes } from '../lib/cpu-per-request.mjs';
import { CERT_DESCRIPTION } from '../lib/tls-cert.mjs';
import { wrk } from '../lib/wrk.mjs';

/** @type {import('./scenario.mjs').LoadScenario} */
export default {
  name: 'tls-keepalive',
  title: 'TLS keep-alive GET, c=50',
  measures: 'per-request overhead with TLS on the client side: 50 keep-alive HTTPS connections (one handshake each), a 6-byte response',
  order: 55,
  connections: 50,
  payload: 'GET /, 6-byte response, over TLS',
  tls: true,
  load: (t) => wrk(t, { connections: 50 }),
  notes: [`${CERT_DESCRIPTION}; the upstream leg stays plain HTTP`],
  notesFrom: (rows) => cpuPerRequestNotes(rows, 'request'),
};
