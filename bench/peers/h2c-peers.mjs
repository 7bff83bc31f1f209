// Peers for the h2c scenarios (h2-get, h2-stream-memory): HTTP/2 by prior knowledge from the
// client, HTTP/1.1 keep-alive to `ctx.upstream`. nginx 1.22 serves h2c only on a `listen … http2`
// port (1.25.1+ would detect the preface with `http2 on;`), HAProxy only on `bind … proto h2`,
// so both also get a plain HTTP/1.1 listener (`h1Port`); pingora-ts serves both on one port.
import { freePort } from '../lib/free-port.mjs';
import { h2cGet, probeReady } from '../lib/protocol-probes.mjs';
import { haproxyConfig, startHaproxy } from '../lib/start-haproxy.mjs';
import { startNginx } from '../lib/start-nginx.mjs';
import { pingoraTs } from './pingora-ts.mjs';

const ready = probeReady('serve h2c (HTTP/2 by prior knowledge)', (port) => h2cGet(port));

/**
 * nginx's server block: h2c on `port`, HTTP/1.1 on `h1Port`, the location of peers/nginx.mjs
 * plus `proxy_max_temp_file_size 0` (a streamed GiB must not go to a temp file).
 * @param {{ port: number, h1Port: number, upstreamPort: number }} o
 */
export function nginxH2cBody({ port, h1Port, upstreamPort }) {
  return [
    `  upstream up { server 127.0.0.1:${upstreamPort}; keepalive 64; keepalive_requests 1000000; keepalive_timeout 60s; }`,
    '  server {',
    `    listen 127.0.0.1:${port} http2 backlog=4096;`,
    `    listen 127.0.0.1:${h1Port} backlog=4096;`,
    '    client_max_body_size 0;',
    '    location / {',
    '      proxy_pass http://up;',
    '      proxy_http_version 1.1;',
    '      proxy_set_header Connection "";',
    '      proxy_request_buffering off;',
    '      proxy_buffer_size 16k;',
    '      proxy_buffers 8 16k;',
    '      proxy_max_temp_file_size 0;',
    '    }',
    '  }',
  ].join('\n');
}

/** @type {import('./peer.mjs').Peer} */
export const nginxH2c = {
  name: 'nginx',
  label: 'nginx',
  cpus: '1',
  needs: ['nginx'],
  config: 'nginx 1 process, `listen … http2` (h2c), proxy_pass to `upstream { keepalive 64; }` over HTTP/1.1, request buffering off, no temp file',
  ready,
  async start({ group, dir, port, upstream }) {
    const h1Port = await freePort();
    const httpBody = nginxH2cBody({ port, h1Port, upstreamPort: upstream.port });
    return { proc: startNginx(group, { dir, name: `nginx-h2c-${port}`, httpBody, cpus: this.cpus }), h1Port };
  },
};

/** @type {import('./peer.mjs').Peer} */
export const haproxyH2c = {
  name: 'haproxy',
  label: 'HAProxy',
  cpus: '1',
  needs: ['haproxy'],
  config: 'HAProxy nbthread 1, `bind … proto h2` (h2c), HTTP/1.1 to the upstream, http-reuse always',
  ready,
  async start({ group, dir, port, upstream }) {
    const h1Port = await freePort();
    const config = haproxyConfig({ binds: [`bind 127.0.0.1:${port} proto h2`, `bind 127.0.0.1:${h1Port}`], server: `server up 127.0.0.1:${upstream.port}` });
    return { proc: startHaproxy(group, { dir, name: `haproxy-h2c-${port}`, config, cpus: this.cpus }), h1Port };
  },
};

/**
 * The h2c peers; pingora-ts as in the main table (threads: 1, access log on), h2c on its one
 * cleartext listener (its default). `baseline`: also the build in that checkout.
 * @param {{ baseline?: string | null }} [o]
 * @returns {import('./peer.mjs').Peer[]}
 */
export function h2cPeers({ baseline } = {}) {
  const peers = [nginxH2c, haproxyH2c, pingoraTs({ threads: 1, accessLog: true, ready })];
  if (baseline) peers.push(pingoraTs({ threads: 1, accessLog: true, ready, name: 'pingora-ts-base', main: `${baseline}/apps/load_balancer/dist/main.js` }));
  return peers;
}
