// pingora-ts: apps/load_balancer/dist/main.js with a generated config. `threads: 2` runs get
// both CPUs (shared with the upstream and the load generator on CPU 0).
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readPoolStats } from '../lib/pool-stats.mjs';
import { otlpSink } from './servers/otlp-sink.mjs';

export const LB_MAIN = fileURLToPath(new URL('../../apps/load_balancer/dist/main.js', import.meta.url));

/**
 * A pingora-ts peer.
 * @param {{ threads: number, accessLog?: boolean, name?: string, main?: string, alpn?: UpstreamAlpn, ready?: import('./peer.mjs').Peer['ready'], selection?: string, cache?: ServiceCache, extra?: { conf: string[], about: string }, metrics?: boolean, sampleRatio?: number }} o
 *   accessLog: write one JSON line per request to a file; main: another build's main.js (`--baseline`);
 *   extra: top-level config lines added (e.g. `access_log_format: combined`), and how the table says so;
 *   metrics: the admin endpoint on (127.0.0.1, any port), so every request is counted in the metrics;
 *   sampleRatio: `tracing:` on, at this `sample_ratio`, exporting to an OTLP sink in the bench process;
 *   alpn: the upstream protocol (`services[].upstreams.alpn`, left out of the config when absent);
 *   ready: the protocol scenarios' probe (a build without the protocol fails it and is skipped);
 *   selection: `upstreams.selection` over three backends (the upstream on 127.0.0.1, .2 and .3), else one backend;
 *   cache: the service's `cache` (the HTTP cache), left out of the config when absent
 * @returns {import('./peer.mjs').Peer}
 */
export function pingoraTs({ threads, accessLog = false, name, main = LB_MAIN, alpn, ready, selection, cache, extra, metrics = false, sampleRatio }) {
  const id = name ?? (threads === 1 ? 'pingora-ts' : `pingora-ts-t${threads}`);
  return {
    name: id,
    label: name ?? (threads === 1 ? 'pingora-ts' : `pingora-ts threads:${threads}`),
    cpus: threads === 1 ? '1' : '0,1',
    config:
      `apps/load_balancer, threads: ${threads}${threads > 1 ? ' (pinned to CPUs 0,1: both cores, shared with wrk and the upstream)' : ''}, ` +
      `${selection ? `${selection} over 3 backends` : 'round robin over 1 backend'}, TCP health check every 1 s, pool size 128, access log ${accessLog ? 'to a file' : 'off'}` +
      (alpn ? `, upstream \`alpn: ${alpn}\`` : '') +
      (cache ? `, \`cache: ${yamlFlow(cache)}\`` : '') +
      (extra ? `, ${extra.about}` : '') +
      (metrics ? ', metrics on (`admin`, not scraped during the run)' : '') +
      (sampleRatio === undefined ? '' : `, tracing at sample_ratio ${sampleRatio} to an OTLP/HTTP sink`) +
      (main === LB_MAIN ? '' : `, built from ${main}`),
    missing: () => (existsSync(main) ? null : `${main} is missing: run \`pnpm build\` there first`),
    tls: true,
    ...(ready ? { ready } : {}),
    async start({ group, dir, port, upstream, tls }) {
      // One set of files per start: a second instance must not append to the first one's logs.
      const base = join(dir, `${id}-${port}`);
      const errorLog = `${base}-error.log`;
      const accessFile = `${base}-access.log`;
      const conf = `${base}.yaml`;
      const tracing = sampleRatio === undefined ? [] : [`tracing: { otlp_endpoint: "${await otlpSink()}", service_name: bench, sample_ratio: ${sampleRatio} }`];
      const extraConf = [...(extra?.conf ?? []), ...tracing];
      writeFileSync(conf, pingoraTsConf({ threads, base, port, upstreamPort: upstream.port, accessLog: accessLog ? accessFile : null, tls, alpn, selection, cache, extra: extraConf, metrics }));
      const proc = group.start({ name: id, cmd: process.execPath, args: [main, '-c', conf], cpus: this.cpus });
      return { proc, logFile: errorLog, finalStats: () => readPoolStats({ errorLog, accessLog: accessLog ? accessFile : undefined }) };
    },
  };
}

/** `services[].upstreams.alpn`: HTTP/1.1, HTTP/2 (h2c without TLS), or h2 preferred by ALPN. @typedef {'h1' | 'h2' | 'h2h1'} UpstreamAlpn */

/**
 * `services[].cache`, written as given (`enabled`, `max_size_bytes`, `max_object_bytes`, ...).
 * @typedef {Record<string, boolean | number | string>} ServiceCache
 */

/** A flat map as a YAML flow mapping: `{ enabled: true, max_size_bytes: 1024 }`. @param {ServiceCache} m */
export function yamlFlow(m) {
  return `{ ${Object.entries(m)
    .map(([k, v]) => `${k}: ${typeof v === 'string' ? JSON.stringify(v) : String(v)}`)
    .join(', ')} }`;
}

/**
 * The load balancer's YAML config. With `tls`, the service gets a second listener serving HTTPS
 * with the run's certificate; everything else about TLS is the load balancer's default
 * (TLS 1.2 and 1.3, node:tls ciphers, session tickets on, no session cache). h2c on the
 * cleartext listener is the load balancer's default too (same port as HTTP/1.1), so `h2c: false`
 * is written only to turn it off.
 * @param {{ threads: number, base: string, port: number, upstreamPort: number, accessLog: string | null, tls?: import('./peer.mjs').TlsListen, alpn?: UpstreamAlpn, h2c?: boolean, selection?: string, cache?: ServiceCache, extra?: string[], metrics?: boolean }} o
 *   base: path prefix for the pid file and error log; accessLog: its file, or null for none;
 *   alpn: `upstreams.alpn`, omitted when absent (the default, h1); selection: over three backends;
 *   cache: the service's `cache`, omitted when absent
 */
export function pingoraTsConf({ threads, base, port, upstreamPort, accessLog, tls, alpn, h2c, selection, cache, extra = [], metrics = false }) {
  const listeners = [h2c === false ? `{ addr: "127.0.0.1:${port}", h2c: false }` : `{ addr: "127.0.0.1:${port}" }`];
  if (tls) listeners.push(`{ addr: "127.0.0.1:${tls.port}", tls: { cert_path: "${tls.certPath}", key_path: "${tls.keyPath}" } }`);
  return [
    'version: 1',
    `threads: ${threads}`,
    `pid_file: ${base}.pid`,
    `error_log: ${base}-error.log`,
    `access_log: ${accessLog ?? 'false'}`,
    'graceful_shutdown_timeout_seconds: 1',
    ...extra,
    ...(metrics ? ['admin: { addr: "127.0.0.1:0" }'] : []),
    'services:',
    '  - name: bench',
    `    listeners: [${listeners.join(', ')}]`,
    '    upstreams:',
    selection
      ? `      backends: ["127.0.0.1:${upstreamPort}", "127.0.0.2:${upstreamPort}", "127.0.0.3:${upstreamPort}"]\n      selection: ${selection}`
      : `      backends: ["127.0.0.1:${upstreamPort}"]`,
    ...(alpn ? [`      alpn: ${alpn}`] : []),
    '      health_check: { type: tcp, interval_ms: 1000 }',
    ...(cache ? [`    cache: ${yamlFlow(cache)}`] : []),
    '',
  ].join('\n');
}
