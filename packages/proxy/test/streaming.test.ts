/**
 * 100 MiB through the proxy in each direction, from generated streams, with slow consumers so
 * that backpressure matters; memory must stay bounded (bodies are never buffered).
 */
import { Readable } from 'node:stream';
import * as v8 from 'node:v8';
import * as vm from 'node:vm';
import { HttpPeer } from '@pingora-ts/proxy';
import { DOWNSTREAMS, Resources, client, sleep, startProxy, useDownstream } from './resources';

const res = new Resources();
afterEach(() => res.closeAll());

const TOTAL = Number(process.env.STREAM_MIB ?? 100) * 1024 * 1024;
const WARMUP = 16 * 1024 * 1024;
const CHUNK = Buffer.alloc(64 * 1024, 120);
/** Live memory may grow by a few socket and stream buffers, never by a body's worth. */
const MAX_LIVE_GROWTH = 8 * 1024 * 1024;
/** RSS: anything below the body's size shows it was not held whole. */
const MAX_RSS_GROWTH = 80 * 1024 * 1024;

/** A Readable of `total` bytes made of one reused 64 KiB buffer. */
function generated(total: number): Readable {
  let left = total;
  return new Readable({
    read() {
      if (left <= 0) {
        this.push(null);
        return;
      }
      const n = Math.min(left, CHUNK.length);
      left -= n;
      this.push(n === CHUNK.length ? CHUNK : CHUNK.subarray(0, n));
    },
  });
}

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

/**
 * Watches memory while a body streams: peak RSS growth (sampled every 25 ms) and peak live
 * growth (heap + ArrayBuffers right after a full GC, every 100 ms). Live memory is what a
 * buffered body would show; RSS also counts garbage that V8 has not collected yet, which
 * varies with GC timing (Node 24 collects later than Node 20), so it only gets a loose bound.
 */
function memoryWatch(): { stop(): { rss: number; live: number } } {
  const live = (): number => {
    // Twice: ArrayBuffers found dead by one GC may be freed only later (by V8's sweeper).
    gc();
    gc();
    const m = process.memoryUsage();
    return m.heapUsed + m.arrayBuffers;
  };
  const baseLive = live();
  const baseRss = process.memoryUsage.rss();
  let peakRss = baseRss;
  let peakLive = baseLive;
  let ticks = 0;
  const t = setInterval(() => {
    peakRss = Math.max(peakRss, process.memoryUsage.rss());
    if (++ticks % 4 === 0) peakLive = Math.max(peakLive, live());
  }, 25);
  return {
    stop() {
      clearInterval(t);
      peakRss = Math.max(peakRss, process.memoryUsage.rss());
      return { rss: peakRss - baseRss, live: peakLive - baseLive };
    },
  };
}

const mib = (n: number): string => (n / 1048576).toFixed(1);

jest.setTimeout(60_000);

describe.each(DOWNSTREAMS)('%s downstream', (downstream) => {
  beforeEach(() => useDownstream(downstream));

  test('100 MiB upload through the proxy, bounded memory', async () => {
    let received = 0;
    const up = await res.httpServer((req, r) => {
      let i = 0;
      req.on('data', (d: Buffer) => {
        received += d.length;
        if ((++i & 15) === 0) {
          req.pause();
          setTimeout(() => req.resume(), 1);
        }
      });
      req.on('end', () => r.end(String(received)));
    });
    const peer = new HttpPeer(up.address);
    const { url } = await startProxy(res, { newCtx: () => null, upstreamPeer: () => peer });
    const c = client(res, url);
    const upload = async (size: number): Promise<string> => {
      received = 0;
      const r = await c.request({ path: '/upload', method: 'PUT', headers: { 'content-length': String(size) }, body: generated(size) });
      return r.body.text();
    };
    expect(await upload(WARMUP)).toBe(String(WARMUP));
    const watch = memoryWatch();
    expect(await upload(TOTAL)).toBe(String(TOTAL));
    const growth = watch.stop();
    console.log(`upload: growth RSS ${mib(growth.rss)} MiB, live ${mib(growth.live)} MiB`);
    expect(received).toBe(TOTAL);
    expect(growth.live).toBeLessThan(MAX_LIVE_GROWTH);
    expect(growth.rss).toBeLessThan(MAX_RSS_GROWTH);
  });

  test('100 MiB download through the proxy (chunked), slow client, bounded memory', async () => {
    const up = await res.httpServer((req, r) => {
      generated(req.url === '/warmup' ? WARMUP : TOTAL).pipe(r);
    });
    const peer = new HttpPeer(up.address);
    const { url } = await startProxy(res, { newCtx: () => null, upstreamPeer: () => peer });
    const c = client(res, url);
    const download = async (path: string): Promise<number> => {
      const r = await c.request({ path, method: 'GET' });
      expect(r.headers['transfer-encoding']).toBe('chunked');
      let n = 0;
      let i = 0;
      for await (const chunk of r.body) {
        n += (chunk as Buffer).length;
        if ((++i & 15) === 0) await sleep(1);
      }
      return n;
    };
    expect(await download('/warmup')).toBe(WARMUP);
    const watch = memoryWatch();
    const got = await download('/download');
    const growth = watch.stop();
    console.log(`download: growth RSS ${mib(growth.rss)} MiB, live ${mib(growth.live)} MiB`);
    expect(got).toBe(TOTAL);
    expect(growth.live).toBeLessThan(MAX_LIVE_GROWTH);
    expect(growth.rss).toBeLessThan(MAX_RSS_GROWTH);
  });
});
