// Peers for the cache-hit scenario: each proxy with its HTTP cache on, in front of the run's
// upstream (whose /cache/* paths send `Cache-Control: public, max-age=600`, so every cache stores
// by the headers), each adding `X-Cache-Status` so the probe can check responses are hits.
// Sizes alike: 256 MiB of cache, objects up to 8 MiB.
import { join } from 'node:path';
import { cacheHit } from '../lib/cache-hit-probe.mjs';
import { probeReady } from '../lib/protocol-probes.mjs';
import { haproxyConfig, startHaproxy } from '../lib/start-haproxy.mjs';
import { startNginx } from '../lib/start-nginx.mjs';
import { pingoraTs } from './pingora-ts.mjs';
import { CACHEABLE } from './upstream.mjs';

/** The load balancer's `services[].cache` in this scenario. */
export const PINGORA_CACHE = { enabled: true, max_size_bytes: 268435456, max_object_bytes: 8388608 };

/** Ready once both objects come back as cache hits (the probe's first GET fills the cache). */
const ready = probeReady('serve cache hits', async (port) => {
  await cacheHit(port, CACHEABLE.small);
  await cacheHit(port, CACHEABLE.large);
});

/**
 * nginx's http body: `proxy_cache` in `cacheDir`, keyed by nginx's default key, storing by the
 * upstream's Cache-Control (no `proxy_cache_valid`). `tuned` adds what a cache server would set:
 * `sendfile on` and `open_file_cache` (a hit then skips open/fstat/close of the cache file).
 * @param {{ port: number, upstreamPort: number, cacheDir: string, tuned: boolean }} o
 */
export function nginxCacheBody({ port, upstreamPort, cacheDir, tuned }) {
  return [
    `  proxy_cache_path ${cacheDir} levels=1:2 keys_zone=bench:16m max_size=256m inactive=60m use_temp_path=off;`,
    `  upstream up { server 127.0.0.1:${upstreamPort}; keepalive 64; keepalive_requests 1000000; keepalive_timeout 60s; }`,
    '  server {',
    `    listen 127.0.0.1:${port} backlog=4096;`,
    ...(tuned ? ['    sendfile on;', '    open_file_cache max=1000 inactive=60s;'] : []),
    '    location / {',
    '      proxy_pass http://up;',
    '      proxy_http_version 1.1;',
    '      proxy_set_header Connection "";',
    '      proxy_buffer_size 16k;',
    '      proxy_buffers 8 16k;',
    '      proxy_cache bench;',
    '      add_header X-Cache-Status $upstream_cache_status always;',
    '    }',
    '  }',
  ].join('\n');
}

/**
 * @param {{ name: string, label: string, tuned: boolean }} o
 * @returns {import('./peer.mjs').Peer}
 */
function nginxCache({ name, label, tuned }) {
  return {
    name,
    label,
    cpus: '1',
    needs: ['nginx'],
    config:
      'nginx 1 process, `proxy_cache` (`proxy_cache_path` in the temp dir, keys_zone 16m, max_size 256m, stored by the upstream\'s Cache-Control), ' +
      `proxy_pass to \`upstream { keepalive 64; }\`, access log off${tuned ? ', `sendfile on`, `open_file_cache max=1000`' : ', nginx defaults otherwise (sendfile off, no open_file_cache)'}`,
    ready,
    async start({ group, dir, port, upstream }) {
      const name = `${this.name}-${port}`;
      const httpBody = nginxCacheBody({ port, upstreamPort: upstream.port, cacheDir: join(dir, name, 'cache'), tuned });
      return { proc: startNginx(group, { dir, name, httpBody, cpus: this.cpus }) };
    },
  };
}

/** HAProxy's config: an in-memory `cache` section used and filled by the backend. @param {{ port: number, upstreamPort: number }} o */
export function haproxyCacheConfig({ port, upstreamPort }) {
  return haproxyConfig({
    binds: [`bind 127.0.0.1:${port}`],
    server: `server up 127.0.0.1:${upstreamPort}`,
    // total-max-size is in MB; max-age caps the TTL the headers give (default 60 s).
    sections: ['cache bench', '  total-max-size 256', '  max-object-size 8388608', '  max-age 600'],
    frontend: ['http-response set-header X-Cache-Status HIT if { res.cache_hit }', 'http-response set-header X-Cache-Status MISS if !{ res.cache_hit }'],
    backend: ['http-request cache-use bench', 'http-response cache-store bench'],
  });
}

/** @type {import('./peer.mjs').Peer} */
const haproxyCache = {
  name: 'haproxy',
  label: 'HAProxy',
  cpus: '1',
  needs: ['haproxy'],
  config: 'HAProxy nbthread 1, `cache` section in shared memory (total-max-size 256 MB, max-object-size 8 MiB, max-age 600), `cache-use`/`cache-store` in the backend, http-reuse always',
  ready,
  async start({ group, dir, port, upstream }) {
    const config = haproxyCacheConfig({ port, upstreamPort: upstream.port });
    return { proc: startHaproxy(group, { dir, name: `haproxy-cache-${port}`, config, cpus: this.cpus }) };
  },
};

/**
 * The cache peers. nginx (tuned) is the reference; pingora-ts is configured as in the main table
 * (threads: 1, access log to a file) plus `services[].cache`. `baseline`: also that build.
 * @param {{ baseline?: string | null }} [o]
 * @returns {import('./peer.mjs').Peer[]}
 */
export function cachePeers({ baseline } = {}) {
  const peers = [
    nginxCache({ name: 'nginx', label: 'nginx', tuned: true }),
    nginxCache({ name: 'nginx-defaults', label: 'nginx (defaults)', tuned: false }),
    haproxyCache,
    pingoraTs({ threads: 1, accessLog: true, cache: PINGORA_CACHE, ready }),
  ];
  if (baseline) peers.push(pingoraTs({ threads: 1, accessLog: true, cache: PINGORA_CACHE, ready, name: 'pingora-ts-base', main: `${baseline}/apps/load_balancer/dist/main.js` }));
  return peers;
}
