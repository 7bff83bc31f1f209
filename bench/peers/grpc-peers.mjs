// Peers for grpc-unary: the gRPC client (h2c) to each, each to the h2c gRPC server
// `ctx.upstream`. `direct` is the reference: the client straight to the server.
import { grpcCall, probeReady } from '../lib/protocol-probes.mjs';
import { haproxyConfig, startHaproxy } from '../lib/start-haproxy.mjs';
import { startNginx } from '../lib/start-nginx.mjs';
import { direct } from './direct.mjs';
import { pingoraTs } from './pingora-ts.mjs';

const ready = probeReady('pass a gRPC call', grpcCall);

/** nginx's `grpc_pass` config: h2c in, h2c out over kept-alive upstream connections. @param {{ port: number, upstreamPort: number }} o */
export function nginxGrpcBody({ port, upstreamPort }) {
  return [
    `  upstream grpc_up { server 127.0.0.1:${upstreamPort}; keepalive 64; keepalive_requests 1000000; keepalive_timeout 60s; }`,
    '  server {',
    `    listen 127.0.0.1:${port} http2 backlog=4096;`,
    '    location / { grpc_pass grpc://grpc_up; }',
    '  }',
  ].join('\n');
}

/**
 * @param {{ baseline?: string | null }} [o]
 * @returns {import('./peer.mjs').Peer[]}
 */
export function grpcPeers({ baseline } = {}) {
  /** @type {import('./peer.mjs').Peer[]} */
  const peers = [
    { ...direct, config: 'the gRPC client straight to the gRPC server (CPU 0); no proxy process', ready },
    {
      name: 'nginx',
      label: 'nginx',
      cpus: '1',
      needs: ['nginx'],
      config: 'nginx 1 process, `listen … http2`, `grpc_pass grpc://` to `upstream { keepalive 64; }` (one upstream stream per connection)',
      ready,
      async start({ group, dir, port, upstream }) {
        return { proc: startNginx(group, { dir, name: `nginx-grpc-${port}`, httpBody: nginxGrpcBody({ port, upstreamPort: upstream.port }), cpus: this.cpus }) };
      },
    },
    {
      name: 'haproxy',
      label: 'HAProxy',
      cpus: '1',
      needs: ['haproxy'],
      config: 'HAProxy nbthread 1, `bind … proto h2`, `server … proto h2` (streams multiplexed upstream), http-reuse always',
      ready,
      async start({ group, dir, port, upstream }) {
        const config = haproxyConfig({ binds: [`bind 127.0.0.1:${port} proto h2`], server: `server grpc 127.0.0.1:${upstream.port} proto h2` });
        return { proc: startHaproxy(group, { dir, name: `haproxy-grpc-${port}`, config, cpus: this.cpus }) };
      },
    },
    pingoraTs({ threads: 1, accessLog: true, alpn: 'h2', ready }),
  ];
  if (baseline) peers.push(pingoraTs({ threads: 1, accessLog: true, alpn: 'h2', ready, name: 'pingora-ts-base', main: `${baseline}/apps/load_balancer/dist/main.js` }));
  return peers;
}
