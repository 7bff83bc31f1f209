import * as net from 'node:net';
import { HttpPeer } from '@pingora-ts/proxy';
import { DOWNSTREAMS, Resources, client, sleep, startProxy, until, useDownstream } from './resources';

const res = new Resources();
afterEach(() => res.closeAll());

function connectRefused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.on('connect', () => {
      s.destroy();
      resolve(false);
    });
    s.on('error', (e: NodeJS.ErrnoException) => resolve(e.code === 'ECONNREFUSED'));
  });
}

describe.each(DOWNSTREAMS)('%s downstream', (downstream) => {
  beforeEach(() => useDownstream(downstream));

  test('graceful shutdown: stops accepting, lets a slow in-flight request finish with Connection: close, closes idle connections after a grace in which they are still answered', async () => {
    let arrived = 0;
    const up = await res.httpServer((req, r) => {
      arrived++;
      if (req.url === '/slow') setTimeout(() => r.end('finished'), 300);
      else r.end('quick');
    });
    const peer = new HttpPeer(up.address);
    const { url, port, proxy } = await startProxy(res, { newCtx: () => null, upstreamPeer: () => peer });

    const idle = client(res, url);
    let idleDisconnected = false;
    idle.on('disconnect', () => (idleDisconnected = true));
    expect(await (await idle.request({ path: '/quick', method: 'GET' })).body.text()).toBe('quick');
    const quiet = client(res, url);
    let quietDisconnected = false;
    quiet.on('disconnect', () => (quietDisconnected = true));
    expect(await (await quiet.request({ path: '/quick', method: 'GET' })).body.text()).toBe('quick');

    const busy = client(res, url);
    const slow = busy.request({ path: '/slow', method: 'GET' });
    await until(() => arrived === 3, 3000, 'slow request to reach upstream');

    const started = Date.now();
    const stopping = proxy.shutdown({ graceful: true, timeoutMs: 5000 });
    expect(await connectRefused(port)).toBe(true);

    // A request already on its way on an idle keep-alive connection is still served, with Connection: close.
    const late = await idle.request({ path: '/quick', method: 'GET' });
    expect(late.headers.connection).toBe('close');
    expect(await late.body.text()).toBe('quick');

    const r = await slow;
    expect(r.statusCode).toBe(200);
    expect(r.headers.connection).toBe('close');
    expect(await r.body.text()).toBe('finished');
    await until(() => idleDisconnected, 3000, 'the used keep-alive connection to be closed');
    await until(() => quietDisconnected, 3000, 'the idle keep-alive connection to be closed after the grace');
    await stopping;
    expect(Date.now() - started).toBeLessThan(3000);
    expect(proxy.shutdown({ graceful: true, timeoutMs: 5000 })).toBe(proxy.shutdown({ graceful: true, timeoutMs: 1 }));
  });

  test('graceful shutdown: a response already streaming finishes, then its keep-alive connection closes', async () => {
    const up = await res.httpServer((_req, r) => {
      r.write('head-and-first-part;');
      setTimeout(() => r.end('rest'), 200);
    });
    const peer = new HttpPeer(up.address);
    const { url, proxy } = await startProxy(res, { newCtx: () => null, upstreamPeer: () => peer });
    const c = client(res, url);
    let disconnected = false;
    c.on('disconnect', () => (disconnected = true));
    const r = await c.request({ path: '/', method: 'GET' });
    expect(r.headers.connection).toBe('keep-alive');
    const stopping = proxy.shutdown({ graceful: true, timeoutMs: 5000 });
    expect(await r.body.text()).toBe('head-and-first-part;rest');
    await stopping;
    await until(() => disconnected, 1000, 'connection to close after the response');
  });

  test('graceful shutdown force-closes what is left after timeoutMs, aborting upstream requests', async () => {
    let upstreamAborted = false;
    let arrived = false;
    const up = await res.httpServer((_req, r) => {
      arrived = true;
      r.on('close', () => (upstreamAborted = !r.writableFinished));
    });
    const peer = new HttpPeer(up.address);
    const { url, proxy } = await startProxy(res, { newCtx: () => null, upstreamPeer: () => peer });
    const hanging = client(res, url)
      .request({ path: '/never', method: 'GET' })
      .then(
        () => 'answered',
        () => 'failed',
      );
    await until(() => arrived);
    const started = Date.now();
    await proxy.shutdown({ graceful: true, timeoutMs: 200 });
    const took = Date.now() - started;
    expect(took).toBeGreaterThanOrEqual(190);
    expect(took).toBeLessThan(2000);
    expect(await hanging).toBe('failed');
    await until(() => upstreamAborted, 2000, 'upstream request to be aborted');
  });

  test('non-graceful shutdown destroys every connection now', async () => {
    let arrived = false;
    const up = await res.httpServer(() => {
      arrived = true;
    });
    const peer = new HttpPeer(up.address);
    const { url, port, proxy } = await startProxy(res, { newCtx: () => null, upstreamPeer: () => peer });
    const hanging = client(res, url)
      .request({ path: '/', method: 'GET' })
      .then(
        () => 'answered',
        () => 'failed',
      );
    await until(() => arrived);
    const started = Date.now();
    await proxy.shutdown({ graceful: false, timeoutMs: 10_000 });
    expect(Date.now() - started).toBeLessThan(500);
    expect(await hanging).toBe('failed');
    expect(await connectRefused(port)).toBe(true);
    expect(proxy.stats().activeConnections).toBe(0);
    await sleep(10);
    expect(proxy.stats().pool.activeConnections).toBe(0);
  });
});
