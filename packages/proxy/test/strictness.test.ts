/**
 * Request parsing is strict: every ambiguous or malformed request is refused with a 4xx, its
 * connection closed, and the upstream (a raw `net` server recording every byte it receives)
 * gets nothing of it; at most the one well-framed request that came before it on the same
 * connection. Runs against both downstream paths.
 */
import * as net from 'node:net';
import { HttpPeer, type ProxyHttp } from '@pingora-ts/proxy';
import { DOWNSTREAMS, MemoryLogger, Resources, rawExchange, sleep, startProxy, useDownstream } from './resources';

const res = new Resources();
afterEach(() => res.closeAll());

/** A raw upstream: records what each connection received, answers each request head with 200 "ok". */
async function recordingUpstream() {
  const received: string[] = [];
  const up = await res.netServer((s: net.Socket) => {
    const at = received.push('') - 1;
    let answered = 0;
    s.on('data', (d) => {
      received[at] += d.toString('latin1');
      const heads = (received[at] as string).split('\r\n\r\n').length - 1;
      for (; answered < heads; answered++) s.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
    });
    s.on('error', () => {});
  });
  return { ...up, received: () => received.join('') };
}

async function setup(opts: { maxHeaderSize?: number } = {}) {
  const up = await recordingUpstream();
  const peer = new HttpPeer(up.address);
  const logger = new MemoryLogger();
  const app: ProxyHttp<null> = { newCtx: () => null, upstreamPeer: () => peer };
  const { port } = await startProxy(res, app, { logger, ...opts });
  return { up, port, logger };
}

/** Sends `bytes` on a fresh connection; the reply must be `status` and the connection closed. */
async function refused(port: number, bytes: string, status: number): Promise<string> {
  const reply = await rawExchange(res, port, bytes);
  expect(reply.slice(0, 12)).toBe(`HTTP/1.1 ${status}`);
  expect(reply).toMatch(/\r\nConnection: close\r\n/i);
  return reply;
}

const GET = 'GET /ok HTTP/1.1\r\nHost: x\r\n\r\n';

const CASES: Array<[string, string, number]> = [
  ['Content-Length and Transfer-Encoding', 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n', 400],
  ['Transfer-Encoding and Content-Length', 'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n', 400],
  ['two different Content-Lengths', 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd', 400],
  ['a Content-Length list', 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3, 4\r\n\r\nabcd', 400],
  ['a signed Content-Length', 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: +3\r\n\r\nabc', 400],
  ['a malformed chunk size', 'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n', 400],
  ['an overflowing chunk size', 'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffff1\r\nabc\r\n0\r\n\r\n', 400],
  ['chunk data longer than its size', 'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcd\r\n0\r\n\r\n', 400],
  ['an unknown transfer coding', 'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\nabc', 400],
  ['a transfer coding list not ending in chunked', 'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n', 400],
  ['a coding before chunked (would be lost)', 'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n', 501],
  ['Transfer-Encoding twice', 'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n', 400],
  ['Transfer-Encoding in HTTP/1.0', 'POST / HTTP/1.0\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n', 400],
  ['an obs-fold header line', 'GET / HTTP/1.1\r\nHost: x\r\nX-A: a\r\n b\r\n\r\n', 400],
  ['an obs-fold header line (tab)', 'GET / HTTP/1.1\r\nHost: x\r\nX-A: a\r\n\tb\r\n\r\n', 400],
  ['a bare CR in a header value', 'GET / HTTP/1.1\r\nHost: x\r\nX-A: a\rb\r\n\r\n', 400],
  ['a bare LF ending a header line', 'GET / HTTP/1.1\r\nHost: x\nX-A: a\r\n\r\n', 400],
  ['a bare LF in a header value', 'GET / HTTP/1.1\r\nHost: x\r\nX-A: a\nb\r\n\r\n', 400],
  ['a bare LF ending the request line', 'GET / HTTP/1.1\nHost: x\r\n\r\n', 400],
  ['a bare CR ending the request line', 'GET / HTTP/1.1\rHost: x\r\n\r\n', 400],
  ['a bare LF ending the head', 'GET / HTTP/1.1\r\nHost: x\r\n\n', 400],
  ['a CR in the target', 'GET /a\rb HTTP/1.1\r\nHost: x\r\n\r\n', 400],
  ['a space before the colon', 'GET / HTTP/1.1\r\nHost : x\r\n\r\n', 400],
  ['a tab before the colon', 'GET / HTTP/1.1\r\nHost\t: x\r\n\r\n', 400],
  ['a header line without colon', 'GET / HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n', 400],
  ['a control character in a value', 'GET / HTTP/1.1\r\nHost: x\r\nX-A: a\x01b\r\n\r\n', 400],
  ['a NUL in a value', 'GET / HTTP/1.1\r\nHost: x\r\nX-A: a\x00b\r\n\r\n', 400],
  ['whitespace before the first header', 'GET / HTTP/1.1\r\n Host: x\r\n\r\n', 400],
  ['an invalid method', 'G@T / HTTP/1.1\r\nHost: x\r\n\r\n', 400],
  ['a lower-case method', 'get / HTTP/1.1\r\nHost: x\r\n\r\n', 400],
  ['HTTP/1.2', 'GET / HTTP/1.2\r\nHost: x\r\n\r\n', 400],
  ['HTTP/2.0 in an HTTP/1 request line', 'GET / HTTP/2.0\r\nHost: x\r\n\r\n', 400],
  ['an HTTP/0.9 request', 'GET /\r\n\r\n', 400],
  ['a misspelt protocol', 'GET / HTTX/1.1\r\nHost: x\r\n\r\n', 400],
  ['a space in the target', 'GET /a b HTTP/1.1\r\nHost: x\r\n\r\n', 400],
  ['no Host in HTTP/1.1', 'GET / HTTP/1.1\r\nX-A: 1\r\n\r\n', 400],
  ['two Host headers', 'GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n', 400],
  ['CONNECT (refused by the default allowConnect)', 'CONNECT upstream.example:443 HTTP/1.1\r\nHost: upstream.example:443\r\n\r\n', 405],
  ['an unknown expectation', 'POST / HTTP/1.1\r\nHost: x\r\nExpect: teapot\r\nContent-Length: 1\r\n\r\nx', 417],
];

describe.each(DOWNSTREAMS)('%s downstream', (downstream) => {
  beforeEach(() => useDownstream(downstream));

  test.each(CASES)('%s: refused, closed, nothing upstream', async (_name, bytes, status) => {
    const { up, port } = await setup();
    await refused(port, bytes, status);
    await sleep(20);
    expect(up.received()).toBe('');
  });

  test.each(CASES)('%s after a valid pipelined request: at most that one request goes upstream', async (_name, bytes, status) => {
    const { up, port } = await setup();
    const reply = await rawExchange(res, port, GET + bytes);
    await sleep(20);
    const got = up.received();
    if (downstream === 'llhttp') {
      // The predecessor is answered, then the refusal; the upstream saw exactly that request.
      expect(reply).toMatch(new RegExp(`^HTTP/1\\.1 200 OK\\r\\n[\\s\\S]*\\r\\n\\r\\nokHTTP/1\\.1 ${status} `));
      expect(got.startsWith('GET /ok HTTP/1.1\r\n')).toBe(true);
      expect(got.split('HTTP/1.1\r\n').length - 1).toBe(1);
      expect(got.endsWith('\r\n\r\n')).toBe(true);
    } else {
      // node:http refuses the whole connection: nothing, or only the well-framed predecessor.
      expect(reply).toMatch(new RegExp(`HTTP/1\\.1 ${status} `));
      if (got !== '') expect(got.split('HTTP/1.1\r\n').length - 1).toBe(1);
    }
    expect(got).not.toContain('POST');
    expect(got).not.toContain(' / HTTP');
  });

  test('a head larger than maxHeaderSize: 431; a request line alone larger: 414', async () => {
    const { up, port, logger } = await setup({ maxHeaderSize: 4096 });
    await refused(port, `GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(6000)}\r\n\r\n`, 431);
    await refused(port, `GET /${'a'.repeat(6000)} HTTP/1.1\r\nHost: x\r\n\r\n`, 414);
    await sleep(20);
    expect(up.received()).toBe('');
    expect(logger.lines.filter((l) => l.level === 'warn').map((l) => l.obj.status)).toEqual([431, 414]);
  });

  test('a malformed chunk after a good one in a later packet: 400 before any response, upstream sees a truncated request only', async () => {
    let received = '';
    const up = await res.netServer((s: net.Socket) => {
      s.on('data', (d) => (received += d.toString('latin1')));
      s.on('error', () => {});
    });
    const peer = new HttpPeer(up.address);
    const logger = new MemoryLogger();
    const { port } = await startProxy(res, { newCtx: () => null, upstreamPeer: () => peer }, { logger });
    const s = res.socket(net.connect(port, '127.0.0.1'));
    let reply = '';
    s.on('data', (d) => (reply += d.toString('latin1')));
    s.on('error', () => {});
    const closed = new Promise((r) => s.on('close', r));
    s.write('POST /up HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n');
    await sleep(50);
    s.write('zz\r\n');
    await closed;
    expect(reply).toMatch(/^HTTP\/1\.1 400 /);
    // Whatever reached the upstream ends before a last chunk: no complete request.
    expect(received).not.toContain('0\r\n\r\n');
    expect(logger.lines.some((l) => l.level === 'warn' && l.msg === 'malformed request from client')).toBe(true);
  });

  test('the refusal is logged as a warn line with the reason and the client; other connections go on', async () => {
    const { port, logger } = await setup();
    const keep = res.socket(net.connect(port, '127.0.0.1'));
    keep.on('error', () => {});
    let kept = '';
    keep.on('data', (d) => (kept += d.toString('latin1')));
    keep.write(GET);
    await sleep(30);
    await refused(port, 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n', 400);
    const warn = logger.lines.find((l) => l.level === 'warn');
    expect(warn?.msg).toBe('malformed request from client');
    expect(warn?.obj).toMatchObject({ status: 400, client: '127.0.0.1' });
    expect(String(warn?.obj.reason)).toMatch(/^HPE_/);
    keep.write(GET);
    await sleep(30);
    expect(kept.split('HTTP/1.1 200 OK').length - 1).toBe(2);
    expect(keep.destroyed).toBe(false);
  });
});
