// HAProxy in HTTP mode, one thread, `http-reuse always` to the upstream.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** @type {import('./peer.mjs').Peer} */
export const haproxy = {
  name: 'haproxy',
  label: 'HAProxy',
  cpus: '1',
  needs: ['haproxy'],
  config: 'HAProxy, nbthread 1, mode http, http-reuse always, logging off',
  async start({ group, dir, port, upstream }) {
    const root = join(dir, 'haproxy');
    mkdirSync(root, { recursive: true });
    const conf = join(root, 'haproxy.cfg');
    writeFileSync(
      conf,
      [
        'global',
        '  nbthread 1',
        '  maxconn 20000',
        // The fd limit may be below what maxconn asks for; 10k idle clients still fit.
        '  no strict-limits',
        'defaults',
        '  mode http',
        '  option http-keep-alive',
        '  timeout connect 5s',
        '  timeout client 75s',
        '  timeout server 60s',
        '  timeout http-keep-alive 75s',
        '  http-reuse always',
        'frontend fe',
        `  bind 127.0.0.1:${port}`,
        '  maxconn 20000',
        '  default_backend be',
        'backend be',
        `  server up 127.0.0.1:${upstream.port}`,
        '',
      ].join('\n'),
    );
    return { proc: group.start({ name: 'haproxy', cmd: 'haproxy', args: ['-db', '-f', conf], cpus: this.cpus }) };
  },
};
