/**
 * The llhttp internal (`HTTPParser` from `node:_http_common`): its load-time check passes on
 * this Node, its parsers are lent and taken back, and a lent parser parses requests as they
 * arrive on a real socket, in whatever pieces TCP delivers them. (That the proxy falls back to
 * node:http without it is tested in packages/proxy/test/internals-in-use.test.ts.)
 */
import * as net from 'node:net';
import { NO_BODY, PAUSE, READ_BODY, llhttp, llhttpUnavailable, type RequestParserHandler } from '@pingora-ts/core/internal';
import { Resources, until } from '../../../test-support/resources';

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

test('the trailers of a chunked body come with its end', () => {
  const pool = (llhttp as NonNullable<typeof llhttp>).parserPool(1024);
  const ends: Array<string[] | null> = [];
  const bodies: string[] = [];
  const handler: RequestParserHandler = {
    onRequestHead: () => READ_BODY,
    onRequestBody: (chunk) => bodies.push(chunk.toString()),
    onRequestComplete: (trailers) => ends.push(trailers),
  };
  const p = pool.take(handler);
  const wire =
    'POST /a HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nX-Sum: 1\r\ngrpc-status: 0\r\n\r\n' +
    'POST /b HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nde\r\n0\r\n\r\n';
  expect(p.execute(Buffer.from(wire))).toBe(wire.length);
  pool.give(p);
  expect(bodies).toEqual(['abc', 'de']);
  expect(ends).toEqual([['X-Sum', '1', 'grpc-status', '0'], null]);
});

test('a lent parser parses requests from a real socket, written a few bytes at a time', async () => {
  const pool = (llhttp as NonNullable<typeof llhttp>).parserPool(8192);
  const seen: string[] = [];
  const handler: RequestParserHandler = {
    onRequestHead: (method, target, raw, major, minor, keepAlive) => {
      seen.push(`${method} ${target} ${raw.join(',')} ${major}.${minor} ${String(keepAlive)}`);
      return method === 'GET' ? NO_BODY : READ_BODY;
    },
    onRequestBody: (chunk) => seen.push(`body ${chunk.toString()}`),
    onRequestComplete: () => seen.push('end'),
  };
  let parsed = 0;
  const { port } = await res.netServer((s) => {
    const parser = pool.take(handler);
    s.on('data', (d: Buffer) => {
      const r = parser.execute(d);
      if (typeof r !== 'number') seen.push(`failure ${r.code}`);
      else parsed += r;
    });
    s.on('close', () => pool.give(parser));
  });
  const wire = Buffer.from(
    'POST /form HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\nhello world' + 'GET /next HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n',
  );
  const c = res.socket(net.connect(port, '127.0.0.1'));
  for (let at = 0; at < wire.length; at += 7) {
    c.write(wire.subarray(at, at + 7));
    await new Promise((r) => setTimeout(r, 1)); // separate reads on the server side, most of the time
  }
  await until(() => parsed === wire.length, 3000, 'every byte parsed');
  expect(seen.filter((s) => !s.startsWith('body '))).toEqual([
    'POST /form Host,a,Content-Length,11 1.1 true',
    'end',
    'GET /next Host,a,Connection,close 1.1 false',
  ]);
  // Body pieces follow the reads; together they are the body.
  expect(seen.filter((s) => s.startsWith('body ')).map((s) => s.slice(5)).join('')).toBe('hello world');
});
