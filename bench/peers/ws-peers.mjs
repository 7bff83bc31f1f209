// Peers for ws-echo: WebSocket clients to each, each to the `ws` echo server `ctx.upstream`
// (HTTP/1.1 Upgrade, then a tunnel). `direct` is the reference.
import { fileURLToPath } from 'node:url';
import { probeReady, wsEcho } from '../lib/protocol-probes.mjs';
import { haproxyConfig, startHaproxy } from '../lib/start-haproxy.mjs';
import { startNginx } from '../lib/start-nginx.mjs';
import { direct } from './direct.mjs';
import { httpProxy } from './http-proxy.mjs';
import { pingoraTs } from './pingora-ts.mjs';

const ready = probeReady('tunnel a WebSocket', wsEcho);

/** nginx's WebSocket config: Upgrade and Connection passed on, as nginx's docs show. @param {{ port: number, upstreamPort: number }} o */
export function nginxWsBody({ port, upstreamPort }) {
  return [
    `  upstream ws_up { server 127.0.0.1:${upstreamPort}; keepalive 64; }`,
    "  map $http_upgrade $connection_upgrade { default upgrade; '' ''; }",
    '  server {',
    `    listen 127.0.0.1:${port} backlog=4096;`,
    '    location / {',
    '      proxy_pass http://ws_up;',
    '      proxy_http_version 1.1;',
    '      proxy_set_header Upgrade $http_upgrade;',
    '      proxy_set_header Connection $connection_upgrade;',
    '      proxy_read_timeout 3600s;',
    '    }',
    '  }',
  ].join('\n');
}

/**
 * @param {{ baseline?: string | null }} [o]
 * @returns {import('./peer.mjs').Peer[]}
 */
export function wsPeers({ baseline } = {}) {
  /** @type {import('./peer.mjs').Peer[]} */
  const peers = [
    { ...direct, config: 'the WebSocket clients straight to the echo server (CPU 0); no proxy process', ready },
    {
      name: 'nginx',
      label: 'nginx',
      cpus: '1',
      needs: ['nginx'],
      config: 'nginx 1 process, proxy_http_version 1.1, `Upgrade` and `Connection` passed on, proxy_read_timeout 1 h',
      ready,
      async start({ group, dir, port, upstream }) {
        return { proc: startNginx(group, { dir, name: `nginx-ws-${port}`, httpBody: nginxWsBody({ port, upstreamPort: upstream.port }), cpus: this.cpus }) };
      },
    },
    {
      name: 'haproxy',
      label: 'HAProxy',
      cpus: '1',
      needs: ['haproxy'],
      config: 'HAProxy nbthread 1, mode http (WebSocket upgrade is built in), timeout tunnel 1 h',
      ready,
      async start({ group, dir, port, upstream }) {
        const config = haproxyConfig({ binds: [`bind 127.0.0.1:${port}`], server: `server ws 127.0.0.1:${upstream.port}`, extra: ['timeout tunnel 1h'] });
        return { proc: startHaproxy(group, { dir, name: `haproxy-ws-${port}`, config, cpus: this.cpus }) };
      },
    },
    {
      ...httpProxy,
      config: 'http-proxy 1.18 on node:http, `proxy.ws()` on the server\'s `upgrade` event',
      ready,
      async start({ group, port, upstream }) {
        const script = fileURLToPath(new URL('./servers/http-proxy-server.mjs', import.meta.url));
        return { proc: group.start({ name: 'http-proxy-ws', cmd: process.execPath, args: [script, String(port), `127.0.0.1:${upstream.port}`], cpus: this.cpus }) };
      },
    },
    pingoraTs({ threads: 1, accessLog: true, ready }),
  ];
  if (baseline) peers.push(pingoraTs({ threads: 1, accessLog: true, ready, name: 'pingora-ts-base', main: `${baseline}/apps/load_balancer/dist/main.js` }));
  return peers;
}
