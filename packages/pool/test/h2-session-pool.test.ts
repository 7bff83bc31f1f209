/**
 * `pool.h2`: HTTP/2 sessions shared by many streams, against a real node:http2 server (h2c):
 * reservations on one session, another session at the peer's stream limit, slots freed when
 * streams close, and a peer that does not speak HTTP/2.
 */
import * as http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { ConnectionPool, H2Session, type H2Reservation, type PeerLike } from '@pingora-ts/pool';
import { Resources, until } from '../../../test-support/resources';

const res = new Resources();
afterEach(() => res.closeAll());

async function h2c(settings: http2.Settings = {}): Promise<{ peer: PeerLike; sessions: () => number }> {
  const server = http2.createServer({ settings });
  let sessions = 0;
  const open = new Set<http2.ServerHttp2Session>();
  server.on('session', (s) => {
    sessions++;
    open.add(s);
    s.on('close', () => open.delete(s));
  });
  server.on('stream', (stream, headers) => {
    stream.respond({ ':status': 200 });
    stream.end(String(headers[':path']));
  });
  res.track(server);
  res.defer(() => {
    for (const s of open) s.destroy();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { peer: { address: `127.0.0.1:${(server.address() as AddressInfo).port}`, tls: false, sni: '', alpn: 'h2' }, sessions: () => sessions };
}

function get(slot: H2Reservation, path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const stream = slot.session.request({ ':path': path }, { endStream: true });
    let body = '';
    stream.on('data', (d: Buffer) => (body += d.toString()));
    stream.on('end', () => resolve(body));
    stream.on('error', reject);
  });
}

test('streams share one session; a slot comes free when its stream closes', async () => {
  const { peer, sessions } = await h2c();
  const pool = new ConnectionPool();
  res.defer(() => pool.destroy());
  const first = (await pool.h2.acquire(peer)) as H2Reservation;
  expect(first.session).toBeInstanceOf(H2Session);
  expect(first.reused).toBe(false);
  const second = pool.h2.reuse(peer);
  expect(second?.session).toBe(first.session);
  expect(second?.reused).toBe(true);
  expect(await Promise.all([get(first, '/a'), get(second as H2Reservation, '/b')])).toEqual(['/a', '/b']);
  await until(() => pool.h2.stats().activeStreams === 0);
  expect(pool.stats().h2).toEqual({ newSessions: 1, sessions: 1, streams: 2, activeStreams: 0 });
  expect(sessions()).toBe(1);
  const unused = pool.h2.reuse(peer) as H2Reservation;
  unused.session.cancel();
  expect(pool.h2.stats().activeStreams).toBe(0);
  await pool.close();
  expect(pool.h2.stats().sessions).toBe(0);
});

test("another session opens at the peer's maxConcurrentStreams; concurrent callers wait for the one being opened", async () => {
  const { peer, sessions } = await h2c({ maxConcurrentStreams: 2 });
  const pool = new ConnectionPool();
  res.defer(() => pool.destroy());
  const slots = (await Promise.all([1, 2, 3, 4, 5].map(() => pool.h2.acquire(peer)))) as H2Reservation[];
  expect(new Set(slots.map((s) => s.session)).size).toBe(3);
  expect(sessions()).toBe(3);
  for (const s of slots) s.session.cancel();
});

test('a peer that does not speak HTTP/2 is a ConnectError naming it', async () => {
  const plain = await res.netServer((s) => s.once('data', () => s.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n')));
  const pool = new ConnectionPool();
  res.defer(() => pool.destroy());
  await expect(pool.h2.acquire({ address: plain.address, tls: false, sni: '', alpn: 'h2' })).rejects.toMatchObject({
    kind: 'ConnectError',
    message: expect.stringContaining(`upstream ${plain.address} did not answer as HTTP/2 (h2c prior knowledge)`),
  });
  expect(pool.h2.stats().sessions).toBe(0);
});

/** An h2c server whose streams answer only when `release()` is called. */
async function heldH2c(settings: http2.Settings): Promise<{ peer: PeerLike; sessions: () => number; held: () => number; release: () => void }> {
  const server = http2.createServer({ settings });
  let sessions = 0;
  const held: http2.ServerHttp2Stream[] = [];
  const open = new Set<http2.ServerHttp2Session>();
  server.on('session', (s) => {
    sessions++;
    open.add(s);
    s.on('close', () => open.delete(s));
  });
  server.on('stream', (stream) => held.push(stream));
  const live = (): http2.ServerHttp2Stream[] => held.filter((stream) => !stream.destroyed);
  res.track(server);
  res.defer(() => {
    for (const s of open) s.destroy();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const release = (): void => {
    for (const stream of held.splice(0)) {
      if (stream.destroyed) continue;
      stream.respond({ ':status': 200 });
      stream.end('ok');
    }
  };
  return {
    peer: { address: `127.0.0.1:${(server.address() as AddressInfo).port}`, tls: false, sni: '', alpn: 'h2' },
    sessions: () => sessions,
    held: () => live().length,
    release,
  };
}

test('maxConnections caps the sessions per peer: callers past the full ones wait for a stream slot, then ConnectionLimitReached', async () => {
  const { peer, sessions, held: serverHolds, release } = await heldH2c({ maxConcurrentStreams: 2 });
  const pool = new ConnectionPool({ maxConnections: 1, connectTimeoutMs: 3000 });
  res.defer(() => pool.destroy());
  const first = (await pool.h2.acquire(peer)) as H2Reservation;
  const second = pool.h2.reuse(peer) as H2Reservation;
  const bodies = [get(first, '/1'), get(second, '/2')];
  // The one session is full: these wait for its slots instead of opening a second session.
  const waiting = [pool.h2.acquire(peer), pool.h2.acquire(peer)];
  await until(() => serverHolds() === 2);
  expect(sessions()).toBe(1);
  release();
  expect(await Promise.all(bodies)).toEqual(['ok', 'ok']);
  const later = (await Promise.all(waiting)) as H2Reservation[];
  expect(later.map((r) => r.session)).toEqual([first.session, first.session]);
  const more = later.map((r, i) => get(r, `/${i + 3}`));
  await until(() => serverHolds() === 2);
  release();
  expect(await Promise.all(more)).toEqual(['ok', 'ok']);
  expect(sessions()).toBe(1);
  await until(() => pool.h2.stats().activeStreams === 0); // slots come free on 'close', after 'end'

  // Nothing comes free within the connect timeout of the peer: 503 ConnectionLimitReached.
  const a = (await pool.h2.acquire(peer)) as H2Reservation;
  const b = pool.h2.reuse(peer) as H2Reservation;
  const held = [get(a, '/a'), get(b, '/b')];
  await until(() => serverHolds() === 2);
  await expect(pool.h2.acquire({ ...peer, connectionTimeoutMs: 100 })).rejects.toMatchObject({ kind: 'ConnectionLimitReached' });
  release();
  await Promise.all(held);
  expect(sessions()).toBe(1);
});

test("a waiter opens a new session when the peer's only session goes away", async () => {
  const { peer, sessions, held: serverHolds, release } = await heldH2c({ maxConcurrentStreams: 1 });
  const pool = new ConnectionPool({ maxConnections: 1 });
  res.defer(() => pool.destroy());
  const first = (await pool.h2.acquire(peer)) as H2Reservation;
  const body = get(first, '/1').catch((err: Error) => err.message);
  await until(() => serverHolds() === 1);
  const waiting = pool.h2.acquire(peer);
  first.session.session.destroy();
  const next = (await waiting) as H2Reservation;
  expect(next.session).not.toBe(first.session);
  expect(sessions()).toBe(2);
  const second = get(next, '/2');
  await until(() => serverHolds() === 1);
  release();
  expect(await second).toBe('ok');
  await body;
});
