import { execFile } from 'node:child_process';
import * as http2 from 'node:http2';
import { Harness, lbConf } from './harness';

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
