// HAProxy in HTTP mode, one thread, `http-reuse always` to the upstream. With `ctx.tls`, the
// frontend also binds HTTPS: tickets on (the default), session cache off, like node:tls.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** @type {import('./peer.mjs').Peer} */
export const haproxy = {
  name: 'haproxy',
  label: 'HAProxy',
  cpus: '1',
  needs: ['haproxy'],
  tls: true,
  config: 'HAProxy, nbthread 1, mode http, http-reuse always, logging off',
  async start({ group, dir, port, upstream, tls }) {
    const root = join(dir, 'haproxy');
    mkdirSync(root, { recursive: true });
    const conf = join(root, 'haproxy.cfg');
    // HAProxy reads the certificate and its key from one file.
    const pem = join(root, 'cert-and-key.pem');
    if (tls) writeFileSync(pem, readFileSync(tls.certPath, 'utf8') + readFileSync(tls.keyPath, 'utf8'));
    writeFileSync(
      conf,
      [
        'global',
        '  nbthread 1',
        '  maxconn 20000',
        // The fd limit may be below what maxconn asks for; 10k idle clients still fit.
        '  no strict-limits',
        ...(tls ? ['  tune.ssl.cachesize 0', '  ssl-default-bind-options ssl-min-ver TLSv1.2'] : []),
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
        ...(tls ? [`  bind 127.0.0.1:${tls.port} ssl crt ${pem}`] : []),
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
