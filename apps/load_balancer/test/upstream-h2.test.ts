/**
 * `upstreams.alpn`: the load balancer in front of an h2c backend (`alpn: h2`), and in front of a
 * backend that answers only HTTP/1.1 when `h2` was asked (a 502 with a clear error log line).
 */
import { createServer as createH2Server, type Http2Server } from 'node:http2';
import { createServer, type Server } from 'node:http';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { request } from 'undici';
import { Harness, lbConf, sleep } from './harness';

let h: Harness;
const servers: Array<Server | Http2Server> = [];
beforeEach(() => {
  h = new Harness();
});
afterEach(async () => {
  for (const s of servers.splice(0)) {
    (s as Server).closeAllConnections?.();
    await new Promise((resolve) => s.close(resolve));
  }
  await h.cleanup();
});

async function listen<S extends Server | Http2Server>(server: S): Promise<string> {
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `127.0.0.1:${(server.address() as AddressInfo).port}`;
}

const withAlpn = (conf: string, alpn: string): string => conf.replace('      backends:', `      alpn: ${alpn}\n      backends:`);

test('alpn: h2 proxies to an h2c backend over one HTTP/2 session', async () => {
  const sessions: Array<import('node:http2').ServerHttp2Session> = [];
  const backend = createH2Server();
  backend.on('session', (s) => sessions.push(s));
  backend.on('stream', (stream, headers) => {
    stream.respond({ ':status': 200 });
    stream.end(`h2 ${String(headers[':path'])}`);
  });
  const addr = await listen(backend);
  const conf = withAlpn(lbConf(h.dir, [addr]), 'h2');
  expect((await h.run(['-t', '-c', h.file('h2.yaml', conf)])).code).toBe(0);
  const lb = await h.start(conf);
  for (const p of ['/a', '/b']) {
    const r = await request(`${lb.url}${p}`);
    expect(await r.body.text()).toBe(`h2 ${p}`);
  }
  expect(sessions).toHaveLength(1);
  for (const s of sessions) s.destroy();
});

test('alpn: h2 to a backend that answers only HTTP/1.1 is a 502 with a clear error log line', async () => {
  const addr = await listen(createServer((_req, res) => res.end('h1 only')));
  const lb = await h.start(withAlpn(lbConf(h.dir, [addr]), 'h2'));
  const r = await request(`${lb.url}/`);
  expect(r.statusCode).toBe(502);
  await r.body.text();
  let log = '';
  for (let i = 0; i < 50 && !log.includes('did not answer as HTTP/2'); i++) {
    await sleep(20);
    log = lb.stderr() + readErrorLog();
  }
  expect(log).toMatch(/did not answer as HTTP\/2 \(h2c prior knowledge\)/);
});

function readErrorLog(): string {
  try {
    return readFileSync(join(h.dir, 'error.log'), 'utf8');
  } catch {
    return '';
  }
}
