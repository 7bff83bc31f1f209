// nginx as a reverse proxy: proxy_pass to an upstream block with `keepalive 64`, one process.
import { startNginx } from '../lib/start-nginx.mjs';

/** @type {import('./peer.mjs').Peer} */
export const nginx = {
  name: 'nginx',
  label: 'nginx',
  cpus: '1',
  needs: ['nginx'],
  config: 'nginx, 1 process; proxy_pass to `upstream { keepalive 64; }`, HTTP/1.1 upstream, request buffering off, access log off',
  async start({ group, dir, port, upstream }) {
    const body = [
      `  upstream up { server 127.0.0.1:${upstream.port}; keepalive 64; keepalive_requests 1000000; keepalive_timeout 60s; }`,
      '  server {',
      `    listen 127.0.0.1:${port} backlog=4096;`,
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
