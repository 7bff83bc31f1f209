/**
 * The HTTP/2 attacks of 2019-2024, each sent with hand-built frames on a raw socket: what the
 * proxy answered (GOAWAY / RST_STREAM code), what it let through (requests started, bytes it
 * read before closing), the memory it held at the peak (`watchMemory`), and that another connection
 * is answered meanwhile and afterwards. `H2_ATTACK_REPORT=1` prints the figures (docs/http2.md lists them).
 */
import * as http2 from 'node:http2';
import { HttpPeer, type HttpProxy } from '@pingora-ts/proxy';
import { F, PREFACE, RawH2, T, frame, getBlock, indexed, literal, rst, settings } from './h2-frames';
import { h2connect, h2request } from './h2-client';
import { Resources, sleep, startProxy, until, useDownstream } from './resources';

const res = new Resources();
afterEach(() => res.closeAll());
beforeEach(() => useDownstream('llhttp'));

const { NGHTTP2_ENHANCE_YOUR_CALM, NGHTTP2_CANCEL, NGHTTP2_PROTOCOL_ERROR } = http2.constants;
const report: Record<string, Record<string, number | string>> = {};
afterAll(() => {
  if (process.env.H2_ATTACK_REPORT) process.stdout.write(JSON.stringify(report, null, 1) + '\n');
});

async function setup(): Promise<{ proxy: HttpProxy<null>; port: number; url: string; upstreamRequests: () => number }> {
  let n = 0;
  const up = await res.httpServer((req, r) => {
    n++;
    if (req.url === '/big') r.end(Buffer.alloc(4 * 1024 * 1024, 'b'));
    else if (req.url === '/upload') req.resume().on('end', () => r.end('ok')); // the stream stays open while its body comes
    else r.end('ok');
  });
  const peer = new HttpPeer(up.address);
  const p = await startProxy(res, { newCtx: () => null, upstreamPeer: () => peer }, { http2: { stallTimeoutMs: 300 } });
  return { ...p, upstreamRequests: () => n };
}

/** Another client on a fresh connection is answered; resolves with how long it took, in ms. */
async function stillServes(url: string): Promise<number> {
  const started = performance.now();
  const r = await h2request(h2connect(res, url), { ':path': '/other' });
  expect(r.body).toBe('ok');
  return Math.round(performance.now() - started);
}

/**
 * Samples this process's memory (heap + external buffers) every 2 ms while an attack runs:
 * the proxy lives in the test process, so the peak over the starting point bounds what the
 * proxy held for the attack (the attacker's own frames are small and counted too).
 */
function watchMemory(): { stop(): number } {
  const used = (): number => {
    const m = process.memoryUsage();
    return m.heapUsed + m.external;
  };
  const base = used();
  let peak = base;
  const timer = setInterval(() => (peak = Math.max(peak, used())), 2);
  res.defer(() => clearInterval(timer)); // also when the test failed before stop()
  return {
    stop(): number {
      clearInterval(timer);
      peak = Math.max(peak, used());
      return Math.round(((peak - base) / 1048576) * 10) / 10;
    },
  };
}

/** No attack may make the proxy hold more than this (node:http2's maxSessionMemory is 16 MiB). */
const HELD_BOUND_MIB = 64;

async function opened(port: number): Promise<RawH2> {
  const c = new RawH2(res, port);
  await c.connected();
  c.send(Buffer.concat([PREFACE, settings()]));
  return c;
}

test('rapid reset (CVE-2023-44487): HEADERS + RST_STREAM pairs get GOAWAY(ENHANCE_YOUR_CALM); few requests start', async () => {
  const { port, url, proxy, upstreamRequests } = await setup();
  const c = await opened(port);
  const mem = watchMemory();
  const started = Date.now();
  // Another client is answered while the attack runs.
  const meanwhile = stillServes(url);
  let sent = 0;
  for (let batch = 0; batch < 50 && !c.closed; batch++) {
    const frames: Buffer[] = [];
    for (let i = 0; i < 200; i++) {
      const id = 1 + 2 * sent++;
      frames.push(frame(T.HEADERS, F.END_HEADERS | F.END_STREAM, id, getBlock()), rst(id, NGHTTP2_CANCEL));
    }
    c.send(Buffer.concat(frames));
    await c.drained();
    await sleep(2);
  }
  await until(() => c.closed, 5000, 'the connection to close');
  expect(c.goaway).toBe(NGHTTP2_ENHANCE_YOUR_CALM);
  const requests = proxy.stats().requests;
  expect(requests).toBeLessThan(1000);
  const msToGoaway = Date.now() - started;
  const otherClientMs = await meanwhile;
  const heldPeakMiB = mem.stop();
  expect(heldPeakMiB).toBeLessThan(HELD_BOUND_MIB);
  report.rapidReset = { streamsSent: sent, requestsStarted: requests, reachedUpstream: upstreamRequests(), msToGoaway, goaway: c.goaway ?? -1, heldPeakMiB, otherClientMs };
  await stillServes(url);
});

test('CONTINUATION flood (CVE-2024-27983): a header block that never ends is cut off', async () => {
  const { port, url, proxy } = await setup();
  const c = await opened(port);
  const mem = watchMemory();
  const meanwhile = stillServes(url);
  const started = Date.now();
  c.send(frame(T.HEADERS, 0, 1, getBlock()));
  let frames = 0;
  for (let batch = 0; batch < 200 && !c.closed; batch++) {
    const out: Buffer[] = [];
    for (let i = 0; i < 100; i++, frames++) out.push(frame(T.CONTINUATION, 0, 1, literal(`x-h${frames}`, 'v'.repeat(100))));
    c.send(Buffer.concat(out));
    await c.drained();
    await sleep(2);
  }
  await until(() => c.closed, 5000, 'the connection to close');
  expect(c.goaway).not.toBeNull();
  const msToClose = Date.now() - started;
  const otherClientMs = await meanwhile;
  expect(proxy.stats().requests).toBe(1); // the other client's only: the endless head never became one
  const heldPeakMiB = mem.stop();
  expect(heldPeakMiB).toBeLessThan(HELD_BOUND_MIB);
  report.continuationFlood = { continuationFramesSent: frames, msToClose, goaway: c.goaway ?? -1, heldPeakMiB, otherClientMs };
  await stillServes(url);
});

test('HPACK bomb: a small block that decodes to megabytes of headers is refused, nothing goes upstream', async () => {
  const { port, url, upstreamRequests } = await setup();
  const c = await opened(port);
  const mem = watchMemory();
  // One 4000-byte entry in the dynamic table, then a block referencing it 4000 times (16 MB decoded).
  const block = Buffer.concat([getBlock(), literal('x-bomb', 'b'.repeat(4000), true), Buffer.concat(Array.from({ length: 4000 }, () => indexed(62)))]);
  c.send(frame(T.HEADERS, F.END_HEADERS | F.END_STREAM, 1, block));
  await until(() => c.closed || c.resets.size > 0 || c.headers > 0, 5000, 'an answer');
  expect(c.headers === 0 || c.resets.size > 0 || c.goaway !== null).toBe(true);
  expect(upstreamRequests()).toBe(0);
  const reachedUpstream = upstreamRequests();
  const otherClientMs = await stillServes(url);
  const heldPeakMiB = mem.stop();
  expect(heldPeakMiB).toBeLessThan(HELD_BOUND_MIB);
  report.hpackBomb = {
    encodedBytes: block.length,
    decodedBytes: 4000 * 4006,
    answer: c.goaway !== null ? `GOAWAY ${c.goaway}` : `RST_STREAM ${[...c.resets.values()].join(',')}`,
    reachedUpstream,
    heldPeakMiB,
    otherClientMs,
  };
});

test('SETTINGS flood: GOAWAY(ENHANCE_YOUR_CALM)', async () => {
  const { port, url } = await setup();
  const c = await opened(port);
  const mem = watchMemory();
  const meanwhile = stillServes(url);
  let sent = 0;
  for (let batch = 0; batch < 100 && !c.closed; batch++) {
    c.send(Buffer.concat(Array.from({ length: 100 }, () => settings([[3, 100]]))));
    sent += 100;
    await c.drained();
    await sleep(2);
  }
  await until(() => c.closed, 5000, 'the connection to close');
  expect(c.goaway).toBe(NGHTTP2_ENHANCE_YOUR_CALM);
  const otherClientMs = await meanwhile;
  const heldPeakMiB = mem.stop();
  expect(heldPeakMiB).toBeLessThan(HELD_BOUND_MIB);
  report.settingsFlood = { framesSent: sent, goaway: c.goaway ?? -1, heldPeakMiB, otherClientMs };
  await stillServes(url);
});

test('PING flood: GOAWAY(ENHANCE_YOUR_CALM)', async () => {
  const { port, url } = await setup();
  const c = await opened(port);
  const mem = watchMemory();
  const meanwhile = stillServes(url);
  let sent = 0;
  for (let batch = 0; batch < 100 && !c.closed; batch++) {
    c.send(Buffer.concat(Array.from({ length: 100 }, () => frame(T.PING, 0, 0, Buffer.alloc(8)))));
    sent += 100;
    await c.drained();
    await sleep(2);
  }
  await until(() => c.closed, 5000, 'the connection to close');
  expect(c.goaway).toBe(NGHTTP2_ENHANCE_YOUR_CALM);
  const otherClientMs = await meanwhile;
  const heldPeakMiB = mem.stop();
  expect(heldPeakMiB).toBeLessThan(HELD_BOUND_MIB);
  report.pingFlood = { framesSent: sent, goaway: c.goaway ?? -1, heldPeakMiB, otherClientMs };
  await stillServes(url);
});

test('empty DATA flood: the connection is closed after a bounded number of empty frames', async () => {
  const { port, url } = await setup();
  const c = await opened(port);
  const mem = watchMemory();
  const meanwhile = stillServes(url);
  c.send(frame(T.HEADERS, F.END_HEADERS, 1, getBlock('/upload', 'POST')));
  let sent = 0;
  for (let batch = 0; batch < 100 && !c.closed; batch++) {
    c.send(Buffer.concat(Array.from({ length: 100 }, () => frame(T.DATA, 0, 1))));
    sent += 100;
    await c.drained();
    await sleep(2);
  }
  await until(() => c.closed, 5000, 'the connection to close');
  const otherClientMs = await meanwhile;
  const heldPeakMiB = mem.stop();
  expect(heldPeakMiB).toBeLessThan(HELD_BOUND_MIB);
  report.emptyDataFlood = { framesSent: sent, goaway: c.goaway ?? -1, heldPeakMiB, otherClientMs };
  expect(sent).toBeLessThan(10_000);
  await stillServes(url);
});

test('zero-window stall: a response the client never opens a window for is reset after the stall timeout', async () => {
  const { port, url, proxy } = await setup();
  const c = new RawH2(res, port);
  await c.connected();
  const mem = watchMemory();
  // SETTINGS_INITIAL_WINDOW_SIZE 0: no DATA may be sent, and no WINDOW_UPDATE ever comes.
  c.send(Buffer.concat([PREFACE, settings([[4, 0]]), frame(T.HEADERS, F.END_HEADERS | F.END_STREAM, 1, getBlock('/big'))]));
  const started = Date.now();
  await until(() => c.resets.has(1), 5000, 'RST_STREAM on the stalled stream');
  expect(c.resets.get(1)).toBe(NGHTTP2_CANCEL);
  await until(() => proxy.stats().activeRequests === 0, 3000, 'the request to end');
  const msToReset = Date.now() - started;
  const otherClientMs = await stillServes(url);
  const heldPeakMiB = mem.stop();
  expect(heldPeakMiB).toBeLessThan(HELD_BOUND_MIB);
  report.zeroWindowStall = { stallTimeoutMs: 300, msToReset, rstCode: c.resets.get(1) ?? -1, activeRequestsAfter: proxy.stats().activeRequests, heldPeakMiB, otherClientMs };
});

test('a protocol error gets RST_STREAM / GOAWAY(PROTOCOL_ERROR), never an HTTP 400 page; extended CONNECT is refused', async () => {
  const { port } = await setup();
  // DATA on stream 0 is a connection error.
  const c = await opened(port);
  c.send(frame(T.DATA, 0, 0, Buffer.from('x')));
  await until(() => c.goaway !== null, 5000, 'GOAWAY');
  expect(c.goaway).toBe(NGHTTP2_PROTOCOL_ERROR);
  // :protocol without SETTINGS_ENABLE_CONNECT_PROTOCOL is a malformed request: a stream error.
  const d = await opened(port);
  d.send(frame(T.HEADERS, F.END_HEADERS, 1, Buffer.concat([literal(':method', 'CONNECT'), literal(':protocol', 'websocket'), literal(':scheme', 'http'), literal(':path', '/ws'), literal(':authority', 'a.test')])));
  await until(() => d.resets.has(1) || d.goaway !== null, 5000, 'the stream to be refused');
  expect(d.resets.get(1) ?? d.goaway).toBe(NGHTTP2_PROTOCOL_ERROR);
  expect(d.headers).toBe(0);
});
