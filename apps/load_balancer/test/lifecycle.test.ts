import { existsSync, readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { request } from 'undici';
import { alive, Harness, lbConf, sleep } from './harness';

let h: Harness;
beforeEach(() => {
  h = new Harness();
});
afterEach(() => h.cleanup());

test('SIGTERM lets a 1.5 s in-flight request finish, then exits 0 and removes the pid file', async () => {
  const slow = await h.upstream(0, (req, res) => {
    req.resume();
    setTimeout(() => res.end('slow done'), 1500);
  });
  const lb = await h.start(lbConf(h.dir, [slow.addr]));
  const pidFile = join(h.dir, 'lb.pid');
  expect(readFileSync(pidFile, 'utf8').trim()).toBe(String(lb.child.pid));
  const inflight = request(lb.url);
  await sleep(200);
  lb.child.kill('SIGTERM');
  const res = await inflight;
  expect(res.statusCode).toBe(200);
  expect(await res.body.text()).toBe('slow done');
  expect(await lb.exited).toEqual({ code: 0, signal: null });
  expect(existsSync(pidFile)).toBe(false);
});

test('SIGINT shuts down fast', async () => {
  const a = await h.upstream();
  const lb = await h.start(lbConf(h.dir, [a.addr]));
  const t0 = Date.now();
  lb.child.kill('SIGINT');
  expect(await lb.exited).toEqual({ code: 0, signal: null });
  expect(Date.now() - t0).toBeLessThan(3000);
});

test('-d returns once the daemon serves; the pid file names it; SIGTERM stops it', async () => {
  const a = await h.upstream();
  const port = await freePort();
  const conf = h.file('d.yaml', lbConf(h.dir, [a.addr]).replace('127.0.0.1:0', `127.0.0.1:${port}`));
  const r = await h.run(['-d', '-c', conf]);
  expect(r.code).toBe(0);
  const pid = Number(readFileSync(join(h.dir, 'lb.pid'), 'utf8'));
  try {
    // Serving as soon as the parent returned: no retry loop here.
    const res = await request(`http://127.0.0.1:${port}/`);
    expect(await res.body.text()).toBe(`upstream ${a.port}`);
  } finally {
    process.kill(pid, 'SIGTERM');
  }
  for (let i = 0; i < 50 && alive(pid); i++) await sleep(100);
  expect(alive(pid)).toBe(false);
  expect(existsSync(join(h.dir, 'lb.pid'))).toBe(false);
});

test('-d with a port already in use exits 1 with the error', async () => {
  const busy = await h.upstream();
  const conf = h.file('d.yaml', lbConf(h.dir, [busy.addr]).replace('127.0.0.1:0', busy.addr));
  const r = await h.run(['-d', '-c', conf]);
  expect(r.code).toBe(1);
  expect(r.stderr).toMatch(/EADDRINUSE|in use/);
});

test('a malformed HTTP request gets 400 and a log line; other connections are untouched', async () => {
  const a = await h.upstream();
  const lb = await h.start(lbConf(h.dir, [a.addr]));
  const good = connect(lb.port, '127.0.0.1');
  const goodReplies = collect(good);
  good.write('GET /1 HTTP/1.1\r\nHost: x\r\n\r\n');
  await until(() => goodReplies().includes(`upstream ${a.port}`));

  const bad = connect(lb.port, '127.0.0.1');
  const badReplies = collect(bad);
  bad.write('GET / HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n');
  await new Promise((resolve) => bad.once('close', resolve));
  expect(badReplies()).toMatch(/^HTTP\/1\.1 400 /);

  good.write('GET /2 HTTP/1.1\r\nHost: x\r\n\r\n');
  await until(() => goodReplies().split('HTTP/1.1 200').length === 3);
  good.destroy();
  await until(() => /"level":40[^\n]*(400|bad request|malformed|parse)/i.test(lb.stderr()));
});

test('the start log names the Node internals in use and the downstream path', async () => {
  const a = await h.upstream();
  const lb = await h.start(lbConf(h.dir, [a.addr]));
  const lines = lb.stderr().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
  expect(lines.find((l) => l.msg === 'node internals')).toMatchObject({ node: process.version, llhttp: 'ok', readInto: 'ok', createServerHandle: 'ok' });
  expect(lines.find((l) => l.msg === 'downstream HTTP/1.1: net sockets + llhttp')).toMatchObject({ reads: 'shared buffer' });
  lb.child.kill('SIGINT');
  await lb.exited;
});

function collect(s: import('node:net').Socket): () => string {
  let data = '';
  s.on('data', (d: Buffer) => (data += d.toString()));
  return () => data;
}

async function until(cond: () => boolean, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await sleep(20);
  }
}


async function freePort(): Promise<number> {
  const { createServer } = await import('node:net');
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const port = (s.address() as import('node:net').AddressInfo).port;
  await new Promise((resolve) => s.close(resolve));
  return port;
}
