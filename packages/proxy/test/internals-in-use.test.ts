/**
 * The proxy's side of core's Node internals (`@pingora-ts/core/internal`, tested there): the
 * fast path runs on llhttp and reads into the shared buffer (and says so in its start line),
 * and without llhttp the proxy falls back to node:http and says why.
 */
import { HttpPeer } from '@pingora-ts/proxy';
import { llhttp } from '@pingora-ts/core/internal';
import { chooseDownstream } from '../src/downstream/choose-downstream';
import { MemoryLogger, Resources, client, startProxy } from './resources';

const res = new Resources();
afterEach(() => res.closeAll());

test('chooseDownstream: fast when asked and available, node otherwise, with the reason logged', () => {
  const logger = new MemoryLogger();
  expect(chooseDownstream('llhttp', llhttp, null).kind).toBe('llhttp');
  expect(chooseDownstream('node:http', llhttp, null).kind).toBe('node:http');
  const fallback = chooseDownstream('llhttp', null, 'HTTPParser.kOnBody is not a number');
  expect(fallback.kind).toBe('node:http');
  fallback.log(logger, 'svc');
  expect(logger.lines).toEqual([
    { level: 'warn', obj: { service: 'svc', downstream: 'node:http', reason: 'HTTPParser.kOnBody is not a number' }, msg: 'downstream HTTP/1.1: node:http (llhttp internal unavailable)' },
  ]);
});

test('without the internal parser, HttpProxy runs on node:http and warns at listen()', async () => {
  const up = await res.httpServer((_req, r) => r.end('via node:http'));
  const logger = new MemoryLogger();
  const getBuiltin = process.getBuiltinModule;
  let isolated: typeof import('../src/http-proxy') | undefined;
  try {
    process.getBuiltinModule = ((id: string) => (id === 'node:_http_common' ? undefined : getBuiltin(id))) as typeof getBuiltin;
    jest.isolateModules(() => {
      isolated = jest.requireActual<typeof import('../src/http-proxy')>('../src/http-proxy');
    });
  } finally {
    process.getBuiltinModule = getBuiltin;
  }
  const { HttpProxy } = isolated as typeof import('../src/http-proxy');
  const peer = new HttpPeer(up.address);
  const proxy = new HttpProxy('fallback', { newCtx: () => null, upstreamPeer: () => peer }, { listeners: [{ addr: '127.0.0.1:0' }], logger });
  res.defer(() => proxy.shutdown({ graceful: false, timeoutMs: 0 }));
  await proxy.listen();
  expect(proxy.downstream).toBe('node:http');
  expect(logger.lines[0]).toMatchObject({ level: 'warn', obj: { downstream: 'node:http', reason: 'node:_http_common has no HTTPParser or methods' } });
  const a = proxy.addresses()[0];
  const r = await client(res, `http://127.0.0.1:${a?.kind === 'tcp' ? a.port : 0}`).request({ path: '/', method: 'GET' });
  expect(await r.body.text()).toBe('via node:http');
});

test('the fast path says in its start line that it parses with llhttp and reads into the shared buffer', async () => {
  // startProxy's default path is the llhttp one (no useDownstream here).
  const logger = new MemoryLogger();
  const peer = new HttpPeer('127.0.0.1:1');
  await startProxy(res, { newCtx: () => null, upstreamPeer: () => peer }, { logger });
  const line = logger.lines.find((l) => l.msg === 'downstream HTTP/1.1: net sockets + llhttp');
  expect(line?.obj.reads).toBe('shared buffer');
  expect(line?.obj.parser).toBe(`llhttp ${process.versions.llhttp}`);
});
