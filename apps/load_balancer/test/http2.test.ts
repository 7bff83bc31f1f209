import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as http2 from 'node:http2';
import { Harness, lbConf, sleep } from './harness';

let h: Harness;
beforeEach(() => {
  h = new Harness();
});
afterEach(() => h.cleanup());

function curl(args: string[]): Promise<string> {
  return new Promise((resolve) => execFile('curl', ['-s', '--max-time', '5', ...args], (_err, stdout) => resolve(stdout)));
}

test('one cleartext port answers curl (HTTP/1.1), curl --http2-prior-knowledge and node:http2 (h2c); the http2 section sets SETTINGS', async () => {
  const a = await h.upstream(0, (req, res) => res.end(`hello ${req.url ?? ''}`));
  const text = `${lbConf(h.dir, [a.addr])}\n    http2: { max_concurrent_streams: 7, initial_window_size: 131072, max_header_list_size: 32768 }`;
  const lb = await h.start(text);
  expect(await curl(['-w', ' %{http_version}', `${lb.url}/one`])).toBe('hello /one 1.1');
  expect(await curl(['--http2-prior-knowledge', '-w', ' %{http_version}', `${lb.url}/two`])).toBe('hello /two 2');
  const session = http2.connect(lb.url);
  try {
    const settings = await new Promise<http2.Settings>((resolve) => session.once('remoteSettings', resolve));
    expect(settings.maxConcurrentStreams).toBe(7);
    expect(settings.initialWindowSize).toBe(131072);
    expect(settings.maxHeaderListSize).toBe(32768);
  } finally {
    session.destroy();
  }
});

test.each([
  ['an unknown ALPN protocol', '      - addr: 127.0.0.1:0\n        tls: { cert_path: /c, key_path: /k, alpn: [h2, h3] }', /services\[0\]\.listeners\[0\]\.tls\.alpn\[1\]: unknown ALPN protocol "h3"/],
  ['a misspelt http2 key', '      - addr: 127.0.0.1:0\n    http2: { max_streams: 5 }', /services\[0\]\.http2\.max_streams: unknown key/],
])('-t rejects %s naming the key', async (_what, listener, expected) => {
  const conf = h.file('bad.yaml', lbConf(h.dir, ['127.0.0.1:1']).replace('      - addr: 127.0.0.1:0', listener));
  const r = await h.run(['-t', '-c', conf]);
  expect(r.code).toBe(1);
  expect(r.stderr).toMatch(expected);
});

/**
 * An h2c client as browsers and gRPC behave: one connection at a time, a new one after GOAWAY,
 * and a request that the GOAWAY says was never processed (or that met a closed connection)
 * sent again on the new one. Anything else counts as a failure.
 */
class H2Client {
  private session: http2.ClientHttp2Session | null = null;
  connections = 0;
  constructor(private readonly url: string) {}

  private current(): http2.ClientHttp2Session {
    if (this.session === null || this.session.closed || this.session.destroyed) {
      const s = http2.connect(this.url);
      s.on('error', () => {});
      s.on('goaway', () => {
        if (this.session === s) this.session = null;
      });
      this.session = s;
      this.connections++;
    }
    return this.session;
  }

  async get(path: string): Promise<string> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.once(path);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (attempt < 3 && (code === 'ERR_HTTP2_GOAWAY_SESSION' || code === 'ERR_HTTP2_INVALID_SESSION' || code === 'REFUSED_STREAM')) continue;
        throw err;
      }
    }
  }

  private once(path: string): Promise<string> {
    return new Promise((resolve, reject) => {
      const req = this.current().request({ ':path': path }, { endStream: true });
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (d: string) => (body += d));
      req.on('end', () => resolve(body));
      // REFUSED_STREAM: not processed (RFC 9113 §8.7), safe to send again.
      req.on('error', (err) => reject(req.rstCode === http2.constants.NGHTTP2_REFUSED_STREAM ? Object.assign(new Error('refused'), { code: 'REFUSED_STREAM' }) : err));
    });
  }

  close(): void {
    this.session?.close();
  }
}

test('-u + SIGQUIT with h2c clients: GOAWAY moves them to the new process; no request fails, the stream in flight completes', async () => {
  const up = await h.upstream(0, (req, res) => {
    req.resume();
    if (req.url === '/slow') setTimeout(() => res.end('slow done'), 1500);
    else res.end('ok');
  });
  const sock = join(h.dir, 'upgrade.sock');
  const old = await h.start(lbConf(h.dir, [up.addr], `upgrade_sock: ${sock}\ngrace_period_seconds: 5`));
  const client = new H2Client(old.url);
  let ok = 0;
  const errors: string[] = [];
  let stop = false;
  const load = (async () => {
    while (!stop) {
      try {
        if ((await client.get('/')) === 'ok') ok++;
      } catch (err) {
        errors.push((err as Error).message);
      }
    }
  })();
  const slow = client.get('/slow');
  await sleep(200);
  const next = h.spawn(['-u', '-c', join(h.dir, 'conf.yaml')]);
  for (let i = 0; i < 100 && !existsSync(sock); i++) await sleep(50);
  old.child.kill('SIGQUIT');
  const pidFile = join(h.dir, 'lb.pid');
  for (let i = 0; i < 100 && readFileSync(pidFile, 'utf8').trim() !== String(next.pid); i++) await sleep(50);
  expect(await slow).toBe('slow done');
  await sleep(500);
  stop = true;
  await load;
  client.close();
  expect(errors).toEqual([]);
  expect(ok).toBeGreaterThan(50);
  expect(client.connections).toBeGreaterThan(1);
  expect(await old.exited).toEqual({ code: 0, signal: null });
  next.kill('SIGTERM');
});
