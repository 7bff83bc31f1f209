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
 * @param {{ threads: number, accessLog?: boolean, name?: string, main?: string, alpn?: UpstreamAlpn, ready?: import('./peer.mjs').Peer['ready'], selection?: string, sampleRatio?: number }} o
 *   accessLog: write one JSON line per request to a file; main: another build's main.js (`--baseline`);
 *   alpn: the upstream protocol (`services[].upstreams.alpn`, left out of the config when absent);
 *   ready: the protocol scenarios' probe (a build without the protocol fails it and is skipped);
 *   selection: `upstreams.selection` over three backends (the upstream on 127.0.0.1, .2 and .3), else one backend;
 *   sampleRatio: `tracing:` on, at this `sample_ratio`, exporting to an OTLP sink in the bench process
 * @returns {import('./peer.mjs').Peer}
 */
export function pingoraTs({ threads, accessLog = false, name, main = LB_MAIN, alpn, ready, selection, sampleRatio }) {
  const id = name ?? (threads === 1 ? 'pingora-ts' : `pingora-ts-t${threads}`);
  return {
    name: id,
    label: name ?? (threads === 1 ? 'pingora-ts' : `pingora-ts threads:${threads}`),
    cpus: threads === 1 ? '1' : '0,1',
    config:
      `apps/load_balancer, threads: ${threads}${threads > 1 ? ' (pinned to CPUs 0,1: both cores, shared with wrk and the upstream)' : ''}, ` +
      `${selection ? `${selection} over 3 backends` : 'round robin over 1 backend'}, TCP health check every 1 s, pool size 128, access log ${accessLog ? 'to a file' : 'off'}` +
      (alpn ? `, upstream \`alpn: ${alpn}\`` : '') +
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
      const tracing = sampleRatio === undefined ? undefined : { endpoint: await otlpSink(), sampleRatio };
      writeFileSync(conf, pingoraTsConf({ threads, base, port, upstreamPort: upstream.port, accessLog: accessLog ? accessFile : null, tls, alpn, selection, tracing }));
      const proc = group.start({ name: id, cmd: process.execPath, args: [main, '-c', conf], cpus: this.cpus });
      return { proc, logFile: errorLog, finalStats: () => readPoolStats({ errorLog, accessLog: accessLog ? accessFile : undefined }) };
    },
  };
}

/** `services[].upstreams.alpn`: HTTP/1.1, HTTP/2 (h2c without TLS), or h2 preferred by ALPN. @typedef {'h1' | 'h2' | 'h2h1'} UpstreamAlpn */

/**
 * The load balancer's YAML config. With `tls`, the service gets a second listener serving HTTPS
 * with the run's certificate; everything else about TLS is the load balancer's default
 * (TLS 1.2 and 1.3, node:tls ciphers, session tickets on, no session cache). h2c on the
 * cleartext listener is the load balancer's default too (same port as HTTP/1.1), so `h2c: false`
 * is written only to turn it off.
 * @param {{ threads: number, base: string, port: number, upstreamPort: number, accessLog: string | null, tls?: import('./peer.mjs').TlsListen, alpn?: UpstreamAlpn, h2c?: boolean, selection?: string, tracing?: { endpoint: string, sampleRatio: number } }} o
 *   base: path prefix for the pid file and error log; accessLog: its file, or null for none;
 *   alpn: `upstreams.alpn`, omitted when absent (the default, h1); selection: over three backends;
 *   tracing: the `tracing:` section's endpoint and sample ratio, omitted when absent
 */
export function pingoraTsConf({ threads, base, port, upstreamPort, accessLog, tls, alpn, h2c, selection, tracing }) {
  const listeners = [h2c === false ? `{ addr: "127.0.0.1:${port}", h2c: false }` : `{ addr: "127.0.0.1:${port}" }`];
  if (tls) listeners.push(`{ addr: "127.0.0.1:${tls.port}", tls: { cert_path: "${tls.certPath}", key_path: "${tls.keyPath}" } }`);
  return [
    'version: 1',
    `threads: ${threads}`,
    `pid_file: ${base}.pid`,
    `error_log: ${base}-error.log`,
    `access_log: ${accessLog ?? 'false'}`,
    'graceful_shutdown_timeout_seconds: 1',
    ...(tracing ? [`tracing: { otlp_endpoint: "${tracing.endpoint}", service_name: bench, sample_ratio: ${tracing.sampleRatio} }`] : []),
    'services:',
    '  - name: bench',
    `    listeners: [${listeners.join(', ')}]`,
    '    upstreams:',
    selection
      ? `      backends: ["127.0.0.1:${upstreamPort}", "127.0.0.2:${upstreamPort}", "127.0.0.3:${upstreamPort}"]\n      selection: ${selection}`
      : `      backends: ["127.0.0.1:${upstreamPort}"]`,
    ...(alpn ? [`      alpn: ${alpn}`] : []),
    '      health_check: { type: tcp, interval_ms: 1000 }',
    '',
  ].join('\n');
}
