import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import WebSocket, { WebSocketServer } from 'ws';
import { Harness, lbConf, sleep } from './harness';

let h: Harness;
beforeEach(() => {
  h = new Harness();
});
afterEach(() => h.cleanup());

/** A `ws` echo server on an upstream of the harness. */
async function wsEcho(): Promise<{ addr: string; wss: WebSocketServer }> {
  const up = await h.upstream(0, (_req, res) => res.end('plain'));
  const wss = new WebSocketServer({ server: up.server });
  wss.on('connection', (ws) => ws.on('message', (d, binary) => ws.send(d, { binary })));
  return { addr: up.addr, wss };
}

function open(url: string): Promise<WebSocket> {
  const ws = new WebSocket(url.replace('http:', 'ws:') + '/chat');
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
}

test('WebSocket passes through a service without any config: echo both ways, close code back', async () => {
  const { addr, wss } = await wsEcho();
  const lb = await h.start(lbConf(h.dir, [addr]));
  const ws = await open(lb.url);
  const replies: string[] = [];
  const all = new Promise<void>((resolve) =>
    ws.on('message', (d) => {
      replies.push(d.toString());
      if (replies.length === 100) resolve();
    }),
  );
  for (let i = 0; i < 100; i++) ws.send(`m${i}`);
  await all;
  expect(replies).toEqual(Array.from({ length: 100 }, (_, i) => `m${i}`));
  const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
  ws.close(4000, 'bye');
  expect(await closed).toBe(4000);
  // One access log line once the WebSocket closed, with the bytes it carried to the client.
  const log = join(h.dir, 'access.log');
  const line = async (): Promise<{ status: number; bytes: number } | undefined> => {
    for (let i = 0; i < 100; i++, await sleep(20)) {
      const found = existsSync(log) ? readFileSync(log, 'utf8').split('\n').find((l) => l.includes('"status":101')) : undefined;
      if (found !== undefined) return JSON.parse(found) as { status: number; bytes: number };
    }
    return undefined;
  };
  expect((await line())?.bytes).toBeGreaterThan(100 * 3);
  await new Promise<void>((resolve) => wss.close(() => resolve()));
});

test('services[].tunnel_idle_timeout_ms closes a silent WebSocket', async () => {
  const { addr, wss } = await wsEcho();
  const lb = await h.start(`${lbConf(h.dir, [addr])}\n    tunnel_idle_timeout_ms: 300`);
  const ws = await open(lb.url);
  ws.send('hi');
  await new Promise((resolve) => ws.once('message', resolve));
  const code = await new Promise<number>((resolve) => ws.once('close', (c) => resolve(c)));
  expect(code).toBe(1006); // dropped by the proxy: no close frame
  await new Promise<void>((resolve) => wss.close(() => resolve()));
});

test('-t rejects a misspelt tunnel key with its path', async () => {
  const conf = h.file('bad.yaml', `${lbConf(h.dir, ['127.0.0.1:1'])}\n    tunnel_idle_timout_ms: 300`);
  const r = await h.run(['-t', '-c', conf]);
  expect(r.code).not.toBe(0);
  expect(r.stderr + r.stdout).toMatch(/services\.0|services\[0\]/);
  expect(r.stderr + r.stdout).toMatch(/tunnel_idle_timout_ms/);
});
