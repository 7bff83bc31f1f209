// Every peer, in table order. nginx is the reference the ratios are taken against.
import { resolve } from 'node:path';
import { direct } from './direct.mjs';
import { fastifyHttpProxy } from './fastify-http-proxy.mjs';
import { haproxy } from './haproxy.mjs';
import { httpProxy } from './http-proxy.mjs';
import { nginx } from './nginx.mjs';
import { pingoraTs } from './pingora-ts.mjs';
import { pingoraTsLibrary } from './pingora-ts-library.mjs';

/** @type {import('./peer.mjs').Peer[]} */
export const peers = [direct, nginx, haproxy, httpProxy, fastifyHttpProxy, pingoraTs({ threads: 1, accessLog: true }), pingoraTs({ threads: 2, accessLog: true })];

/** Peers that run only when `--peers` names them (comparisons of pingora-ts with itself). */
export const optionalPeers = [
  // Issue 14: the combined access log format, and Sentry on (no error happens: the cost of having it), against pingora-ts.
  pingoraTs({ threads: 1, accessLog: true, name: 'pingora-ts-combined', extra: { conf: ['access_log_format: combined'], about: 'access_log_format: combined' } }),
  pingoraTs({ threads: 1, accessLog: true, name: 'pingora-ts-sentry', extra: { conf: ['sentry: { dsn: "http://public@127.0.0.1:9/1" }'], about: 'sentry on (DSN on 127.0.0.1, no event sent)' } }),
  // Metrics on (issue 14: within 5 % of pingora-ts with them off).
  pingoraTs({ threads: 1, accessLog: true, metrics: true, name: 'pingora-ts-metrics' }),
  pingoraTsLibrary('llhttp'),
  pingoraTsLibrary('node:http'),
  // The selection algorithms over three backends (issue 12: ketama and least_conn within 5 % of round robin).
  ...['round_robin', 'ketama', 'least_conn', 'maglev', 'p2c_ewma'].map((selection) =>
    pingoraTs({ threads: 1, accessLog: true, selection, name: `pingora-ts-${selection.replace('_', '-')}` }),
  ),
  // OpenTelemetry tracing exported over OTLP/HTTP (issue 14: at sample_ratio 0.01 within 5 % of off; 1.0 reported).
  pingoraTs({ threads: 1, accessLog: true, sampleRatio: 0.01, name: 'pingora-ts-tracing-0.01' }),
  pingoraTs({ threads: 1, accessLog: true, sampleRatio: 1, name: 'pingora-ts-tracing-1' }),
  // Both: what an operator leaving observability on pays (issue 14: within 5 % of both off).
  pingoraTs({ threads: 1, accessLog: true, metrics: true, sampleRatio: 0.01, name: 'pingora-ts-observed' }),
];

/** The peer every ratio is relative to. */
export const REFERENCE = 'nginx';

/**
 * `--baseline DIR`: the load balancer built in another checkout (threads: 1, access log on, as
 * pingora-ts), run in the same interleaved rounds so a change is measured against it.
 * @param {string} dir
 * @returns {import('./peer.mjs').Peer}
 */
export function baselinePeer(dir) {
  return pingoraTs({ threads: 1, accessLog: true, name: 'pingora-ts-base', main: resolve(dir, 'apps/load_balancer/dist/main.js') });
}
