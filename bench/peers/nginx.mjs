// nginx as a reverse proxy: proxy_pass to an upstream block with `keepalive 64`, one process.
// With `ctx.tls`, the same server also listens for HTTPS.
import { startNginx } from '../lib/start-nginx.mjs';

/**
 * The HTTPS lines of the server block: node:tls's defaults spelt out. nginx 1.22 leaves TLS 1.3
 * out of its default protocols; `ssl_session_cache none` keeps no sessions (node:tls keeps none
 * either) while tickets stay on, as they are in node:tls and HAProxy.
 * @param {import('./peer.mjs').TlsListen} tls
 */
export function nginxTlsLines(tls) {
  return [
    `    listen 127.0.0.1:${tls.port} ssl backlog=4096;`,
    `    ssl_certificate ${tls.certPath};`,
    `    ssl_certificate_key ${tls.keyPath};`,
    '    ssl_protocols TLSv1.2 TLSv1.3;',
    '    ssl_session_tickets on;',
    '    ssl_session_cache none;',
  ];
}

/** @type {import('./peer.mjs').Peer} */
export const nginx = {
  name: 'nginx',
  label: 'nginx',
  cpus: '1',
  needs: ['nginx'],
  tls: true,
  config: 'nginx, 1 process; proxy_pass to `upstream { keepalive 64; }`, HTTP/1.1 upstream, request buffering off, access log off',
  async start({ group, dir, port, upstream, tls }) {
    const body = [
      `  upstream up { server 127.0.0.1:${upstream.port}; keepalive 64; keepalive_requests 1000000; keepalive_timeout 60s; }`,
      '  server {',
      `    listen 127.0.0.1:${port} backlog=4096;`,
      ...(tls ? nginxTlsLines(tls) : []),
      '    client_max_body_size 0;',
      '    location / {',
      '      proxy_pass http://up;',
      '      proxy_http_version 1.1;',
      '      proxy_set_header Connection "";',
      // Stream uploads like the other peers do, and keep a 64 KiB response in memory.
      '      proxy_request_buffering off;',
      '      proxy_buffer_size 16k;',
      '      proxy_buffers 8 16k;',
      '    }',
      '  }',
    ].join('\n');
    return { proc: startNginx(group, { dir, name: 'nginx-proxy', httpBody: body, cpus: this.cpus }) };
  },
};
