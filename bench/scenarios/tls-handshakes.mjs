import { cpuPerRequestNotes } from '../lib/cpu-per-request.mjs';
import { CERT_DESCRIPTION } from '../lib/tls-cert.mjs';
import { wrk } from '../lib/wrk.mjs';

/** @type {import('./scenario.mjs').LoadScenario} */
export default {
  name: 'tls-handshakes',
  title: 'TLS full handshakes, c=50',
  measures: 'full TLS handshakes per second (= req/s): every request on a new TLS connection (Connection: close), never a resumed session',
  order: 60,
  connections: 50,
  payload: 'GET /, 6-byte response, Connection: close, one full TLS handshake per request',
  tls: true,
  load: (t) => wrk(t, { connections: 50, headers: { Connection: 'close' }, fullHandshakes: true }),
  notes: [
    'wrk keeps its TLS session when it reconnects and every peer here accepts session tickets, so unpatched wrk measures resumed (PSK) handshakes; ' +
      'the no-resume.so preload (lib/no-resume-shim.mjs) drops the session before each reconnect, so each request pays a full handshake: ECDHE plus a certificate signature',
    `${CERT_DESCRIPTION}; TLS 1.2-1.3 allowed, session tickets on, no server-side session cache on every peer`,
  ],
  notesFrom: (rows) => cpuPerRequestNotes(rows, 'handshake'),
};
