// The one upstream every peer forwards to (on 127.0.0.1, and 127.0.0.2 / .3 for peers that
// balance over three backends): nginx on CPU 0 answering
//   GET  /        200 "hello\n"  (small response)
//   GET  /64k     a 64 KiB file
//   POST /upload  200 "ok\n" once the whole body is read (a sink for uploads)
//   GET  /cache/small, /cache/64k  the same two bodies with `Cache-Control: public, max-age=600`,
//                 each request logged to cache-origin.log (the cache-hit scenario counts them)
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startNginx } from '../lib/start-nginx.mjs';

export const LARGE_BYTES = 64 * 1024;
/** The cacheable objects: the body of `/` and of `/64k` under paths that say they may be cached. */
export const CACHEABLE = { small: { path: '/cache/small', bytes: 6 }, large: { path: '/cache/64k', bytes: LARGE_BYTES } };
/** What makes a location cacheable, and its log. @param {string} dir */
const cacheableLines = (dir) => ['      add_header Cache-Control "public, max-age=600";', `      access_log ${originLogPath(dir)};`];

/** The upstream's log of requests for the cacheable paths, one line each. @param {string} dir the run's temp dir */
export const originLogPath = (dir) => join(dir, 'upstream', 'logs', 'cache-origin.log');

/**
 * How many requests for the cacheable paths reached the upstream so far.
 * @param {string} dir  the run's temp dir
 */
export function originRequests(dir) {
  const file = originLogPath(dir);
  if (!existsSync(file)) return 0;
  const text = readFileSync(file, 'latin1');
  let n = 0;
  for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) n++;
  return n;
}

/**
 * @param {import('../lib/process-group.mjs').ProcessGroup} group
 * @param {{ dir: string, port: number, cpus: string }} o
 */
export function startUpstream(group, { dir, port, cpus }) {
  writeFileSync(join(dir, 'payload-64k'), Buffer.alloc(LARGE_BYTES, 'x'));
  const body = [
    `  upstream upstream_self { server 127.0.0.1:${port}; keepalive 16; }`,
    '  server {',
    `    listen 127.0.0.1:${port} backlog=4096;`,
    // The same server on two more loopback addresses: three "backends" for the selection peers.
    `    listen 127.0.0.2:${port} backlog=4096;`,
    `    listen 127.0.0.3:${port} backlog=4096;`,
    '    client_max_body_size 0;',
    '    client_body_buffer_size 2m;',
    `    location = / { return 200 "hello\\n"; }`,
    `    location = /64k { default_type application/octet-stream; alias ${join(dir, 'payload-64k')}; }`,
    '    location = /cache/small {',
    ...cacheableLines(dir),
    `      return 200 "hello\\n";`,
    '    }',
    '    location = /cache/64k {',
    '      default_type application/octet-stream;',
    ...cacheableLines(dir),
    `      alias ${join(dir, 'payload-64k')};`,
    '    }',
    // A sink must read the whole body before it answers: `return` would answer first and
    // discard the rest, which makes a streaming proxy drop the connection. So nginx reads the
    // body (request buffering, in memory), then asks itself for /ok without it.
    '    location = /upload {',
    '      proxy_pass http://upstream_self/ok;',
    '      proxy_http_version 1.1;',
    '      proxy_method GET;',
    '      proxy_pass_request_body off;',
    '      proxy_set_header Connection "";',
    '      proxy_set_header Content-Length "";',
    '      proxy_set_header Content-Type "";',
    '    }',
    `    location = /ok { return 200 "ok\\n"; }`,
    '  }',
  ].join('\n');
  return startNginx(group, { dir, name: 'upstream', httpBody: body, cpus });
}
