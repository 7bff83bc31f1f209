/**
 * The isolated llhttp module: its load-time check passes on this Node, its parsers are lent and
 * taken back, and when the internal is missing the proxy falls back to node:http (and says so).
 */
import { HttpPeer } from '@pingora-ts/proxy';
import { chooseDownstream } from '../src/downstream/choose-downstream';
import { NO_BODY, PAUSE, READ_BODY, llhttp, llhttpUnavailable, type RequestParserHandler } from '../src/http1/llhttp';
import { MemoryLogger, Resources, client } from './resources';

const res = new Resources();
afterEach(() => res.closeAll());

test('the internal parser passes its load-time check on this Node', () => {
  expect(llhttpUnavailable).toBeNull();
  expect(llhttp?.version).toBe(`llhttp ${process.versions.llhttp}`);
});

test('parsers: PAUSE stops after a head, NO_BODY skips the end, the pool tracks lent parsers', () => {
  const pool = (llhttp as NonNullable<typeof llhttp>).parserPool(1024);
  const seen: string[] = [];
  const handler: RequestParserHandler = {
    onRequestHead: (method, target) => {
      seen.push(`${method} ${target}`);
      return target === '/2' ? NO_BODY + PAUSE : target === '/1' ? NO_BODY : READ_BODY;
    },
    onRequestBody: (chunk) => seen.push(`body ${chunk.toString()}`),
    onRequestComplete: () => seen.push('end'),
  };
  const parsers = Array.from({ length: 300 }, () => pool.take(handler));
  expect(pool.crowded).toBe(true);
  for (const p of parsers.slice(1)) pool.give(p);
  expect(pool.crowded).toBe(false);
  const p = parsers[0] as (typeof parsers)[number];
  const bytes = Buffer.from('GET /1 HTTP/1.1\r\nHost: h\r\n\r\nGET /2 HTTP/1.1\r\nHost: h\r\n\r\nPOST /3 HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\nok');
  const first = p.execute(bytes);
  expect(typeof first === 'number' ? first : first.code).toBe('HPE_PAUSED');
  p.resume();
  const rest = bytes.subarray(typeof first === 'number' ? 0 : first.bytesParsed);
  expect(p.execute(rest)).toBe(rest.length);
  expect(seen).toEqual(['GET /1', 'GET /2', 'POST /3', 'body ok', 'end']);
  const bad = p.execute(Buffer.from('GET / HTTP/1.1\r\nHost : h\r\n\r\n'));
  expect(typeof bad === 'number' ? bad : bad.code).toBe('HPE_INVALID_HEADER_TOKEN');
  pool.give(p);
});

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
