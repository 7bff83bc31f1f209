/**
 * `pingora-ts:proxy:internal-error`: a hook that throws (in any phase) publishes one message
 * with the service, the phase, what was thrown and the session; failures at either end
 * (an upstream refusing) publish nothing.
 */
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { CHANNELS, HttpPeer, type ProxyHttp, type ProxyInternalErrorMessage } from '@pingora-ts/proxy';
import { DOWNSTREAMS, Resources, client, sleep, startProxy, useDownstream } from './resources';

const res = new Resources();
const seen: ProxyInternalErrorMessage[] = [];
const onMessage = (m: unknown): void => {
  const msg = m as ProxyInternalErrorMessage;
  // The session is read while the message is handled, as a subscriber must.
  seen.push({ ...msg, session: { method: msg.session.method, path: msg.session.path, headers: { ...msg.session.headers } } as never });
};
beforeEach(() => {
  seen.length = 0;
  subscribe(CHANNELS.internalError, onMessage);
});
afterEach(async () => {
  unsubscribe(CHANNELS.internalError, onMessage);
  await res.closeAll();
});

describe.each(DOWNSTREAMS)('%s downstream', (downstream) => {
  beforeEach(() => useDownstream(downstream));

  test.each([
    ['request', 'requestFilter', { requestFilter: () => { throw new Error('boom in requestFilter'); } }, 500],
    ['request', 'upstreamRequestFilter', { upstreamRequestFilter: async () => { await sleep(1); throw new Error('boom in upstreamRequestFilter'); } }, 500],
    ['logging', 'logging', { logging: () => { throw new Error('boom in logging'); } }, 200],
  ] as Array<[string, string, Partial<ProxyHttp<null>>, number]>)('a throwing hook publishes phase %s (%s)', async (phase, hook, hooks, status) => {
    const up = await res.httpServer((_req, r) => r.end('ok'));
    const peer = new HttpPeer(up.address);
    const { url } = await startProxy(res, { newCtx: () => null, upstreamPeer: () => peer, ...hooks });
    const r = await client(res, url).request({ path: '/item?q=1', method: 'GET', headers: { authorization: 'Bearer x' } });
    expect(r.statusCode).toBe(status);
    await r.body.text();
    for (let i = 0; i < 50 && seen.length === 0; i++) await sleep(10);
    expect(seen).toHaveLength(1);
    const m = seen[0] as ProxyInternalErrorMessage;
    expect(m.service).toBe('test-proxy');
    expect(m.phase).toBe(phase);
    expect((m.error as Error).message).toBe(`boom in ${hook}`);
    expect(m.session.method).toBe('GET');
    expect(m.session.path).toBe('/item?q=1');
    expect(m.session.headers.authorization).toBe('Bearer x');
  });

  test('an upstream failure is not internal: nothing published', async () => {
    const app: ProxyHttp<null> = { newCtx: () => null, upstreamPeer: () => new HttpPeer('127.0.0.1:1') };
    const { url } = await startProxy(res, app, { maxRetries: 0 });
    const r = await client(res, url).request({ path: '/', method: 'GET' });
    expect(r.statusCode).toBe(502);
    await r.body.text();
    await sleep(20);
    expect(seen).toHaveLength(0);
  });
});
