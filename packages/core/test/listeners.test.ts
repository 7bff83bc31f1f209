/**
 * Core's listeners in-process: TCP (IPv4, IPv6), several accepts per event-loop turn, Unix sockets (mode, stale file replaced, live
 * or foreign file refused), TLS with SNI and ALPN (checked with `openssl s_client`), session
 * resumption, certificates swapped on disk (served to new connections, a broken one refused),
 * and the `-t` validators' one-line messages.
 */
import { execFile, spawnSync } from 'node:child_process';
import { appendFileSync, existsSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { connect, createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { ConfError, checkListenerConfig, checkTlsConfig, listenerKey, openListener, parseListenAddr, readCaFile, type Listener, type Logger } from '@pingora-ts/core';
import { dropExtraAcceptHandles } from '../src/listeners/listener';
import { cleanup, tempDir, waitUntil } from './helpers';
import { sleep } from '../../../test-support/resources';

const opened: Listener[] = [];
const sockets = new Set<Socket>();
afterEach(async () => {
  for (const s of sockets) s.destroy();
  sockets.clear();
  await Promise.all(opened.splice(0).map((l) => l.close()));
});
afterAll(cleanup);

function echoHandler(socket: Socket): void {
  sockets.add(socket);
  socket.on('close', () => sockets.delete(socket));
  socket.on('data', (d) => socket.write(d));
  socket.on('error', () => socket.destroy());
}

function portOf(l: Listener): number {
  const a = l.address();
  return a.kind === 'tcp' ? a.port : 0;
}

async function open(...args: Parameters<typeof openListener>): Promise<Listener> {
  const l = await openListener(...args);
  opened.push(l);
  return l;
}

function recordingLogger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const at = (level: string) => (obj: object, msg?: string) => void lines.push(`${level} ${msg ?? ''} ${JSON.stringify(obj)}`);
  return { lines, error: at('error'), warn: at('warn'), info: at('info'), debug: at('debug') };
}

/** One request/response over a plain socket (the echo handler answers what it gets). */
function roundTrip(port: number | string, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = typeof port === 'number' ? connect(port, '127.0.0.1') : connect(port);
    s.once('data', (d) => {
      resolve(d.toString());
      s.destroy();
    });
    s.once('error', reject);
    s.write(text);
  });
}

describe('addresses', () => {
  test('parseListenAddr and listenerKey', () => {
    expect(parseListenAddr('127.0.0.1:80')).toEqual({ kind: 'tcp', host: '127.0.0.1', port: 80, family: 4 });
    expect(parseListenAddr('[::1]:8080')).toEqual({ kind: 'tcp', host: '::1', port: 8080, family: 6 });
    expect(parseListenAddr('Localhost:0')).toEqual({ kind: 'tcp', host: 'localhost', port: 0, family: 0 });
    expect(parseListenAddr('unix:/run/x.sock')).toEqual({ kind: 'unix', path: '/run/x.sock' });
    expect(listenerKey('[::1]:8080')).toBe('tcp:::1:8080');
    expect(() => parseListenAddr('::1:80')).toThrow(/an IPv6 address is written "\[addr\]:port"/);
    expect(() => parseListenAddr('nope')).toThrow(/invalid listen address "nope"/);
  });

  test('TCP on IPv4 and IPv6 hands accepted sockets to onConnection', async () => {
    const v4 = await open({ addr: '127.0.0.1:0' }, echoHandler);
    const a = v4.address();
    expect(a).toEqual({ kind: 'tcp', host: '127.0.0.1', port: expect.any(Number) });
    await expect(roundTrip(a.kind === 'tcp' ? a.port : 0, 'hi')).resolves.toBe('hi');
    const v6 = await open({ addr: '[::1]:0' }, echoHandler).catch((err: NodeJS.ErrnoException) => err);
    if (v6 instanceof Error) {
      expect(v6.code).toBe('EADDRNOTAVAIL'); // no IPv6 loopback on this machine
      return;
    }
    expect(v6.address()).toMatchObject({ kind: 'tcp', host: '::1' });
  });

  test('a burst of new connections is accepted several per event-loop turn, not one', async () => {
    // libuv accepts once per handle per turn; the listener has 4 handles (duplicate descriptors).
    let accepted = 0;
    const count = (s: Socket): void => {
      accepted++;
      echoHandler(s);
    };
    const port = portOf(await open({ addr: '127.0.0.1:0' }, count));
    const single = portOf(await open({ addr: '127.0.0.1:0' }, count, { acceptHandles: 1 }));
    const firstTurn = (p: number): Promise<number> =>
      new Promise((resolve) => {
        setTimeout(() => {
          accepted = 0;
          for (let i = 0; i < 12; i++) sockets.add(connect(p, '127.0.0.1').on('error', () => {}));
          // After the connects (queued on this tick): hold the loop while the kernel completes the
          // handshakes, then count what the next poll phase accepted.
          process.nextTick(() => {
            const until = Date.now() + 100;
            while (Date.now() < until);
            setImmediate(() => resolve(accepted));
          });
        }, 0);
      });
    const several = await firstTurn(port);
    expect(several).toBeGreaterThan(1);
    expect(several).toBeLessThanOrEqual(4);
    await waitUntil(() => accepted === 12);
    await expect(firstTurn(single)).resolves.toBe(1);
    await waitUntil(() => accepted === 12);
    // Before a SIGHUP upgrade spawns the next generation, the extra handles are closed.
    dropExtraAcceptHandles();
    await expect(firstTurn(port)).resolves.toBe(1);
    await waitUntil(() => accepted === 12);
  });

  test('a port in use is refused like Node does it', async () => {
    const first = await open({ addr: '127.0.0.1:0' }, echoHandler);
    const a = first.address();
    const port = a.kind === 'tcp' ? a.port : 0;
    await expect(openListener({ addr: `127.0.0.1:${port}` }, echoHandler)).rejects.toThrow(`listen EADDRINUSE: address already in use 127.0.0.1:${port}`);
  });
});

describe('Unix sockets', () => {
  test('bound with the configured mode, serving at the path, removed on close', async () => {
    const path = join(tempDir(), 'a.sock');
    const l = await openListener({ addr: `unix:${path}`, unix_mode: 0o660 }, echoHandler);
    expect(statSync(path).mode & 0o777).toBe(0o660);
    expect(l.address()).toEqual({ kind: 'unix', path });
    await expect(roundTrip(path, 'unix')).resolves.toBe('unix');
    for (const s of sockets) s.destroy();
    await l.close();
    expect(existsSync(path)).toBe(false);
  });

  test('a stale socket file (nothing answers) is replaced', async () => {
    const path = join(tempDir(), 'stale.sock');
    // A process that dies while listening leaves its socket file behind.
    spawnSync(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(path)}, () => process.kill(process.pid, 'SIGKILL'))`]);
    expect(statSync(path).isSocket()).toBe(true);
    await open({ addr: `unix:${path}` }, echoHandler);
    await expect(roundTrip(path, 'fresh')).resolves.toBe('fresh');
  });

  test('a socket file a live server answers on is refused, and left alone', async () => {
    const path = join(tempDir(), 'live.sock');
    const live = createServer((s) => {
      s.on('error', () => s.destroy()); // the stale-check probe hangs up at once
      s.end('live');
    });
    await new Promise<void>((r) => live.listen(path, r));
    try {
      await expect(openListener({ addr: `unix:${path}` }, echoHandler)).rejects.toThrow(`listen EADDRINUSE: address already in use ${path}`);
      const answer = await new Promise<string>((resolve) => connect(path).once('data', (d) => resolve(d.toString())));
      expect(answer).toBe('live');
    } finally {
      await new Promise((r) => live.close(r));
    }
  });

  test('a path that is not a socket is never removed', async () => {
    const path = join(tempDir(), 'file.sock');
    writeFileSync(path, 'precious');
    await expect(openListener({ addr: `unix:${path}` }, echoHandler)).rejects.toThrow(`${path} exists and is not a socket (not removing it)`);
    expect(readFileSync(path, 'utf8')).toBe('precious');
  });
});

describe('TLS', () => {
  let dir: string;
  const pem = (name: string): string => join(dir, name);

  /** A self-signed certificate for `names` (the first is the CN), written as <file>.pem / <file>.key. */
  function makeCert(file: string, names: string[]): void {
    const r = spawnSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2', '-subj', `/CN=${names[0]}`, '-addext', `subjectAltName=${names.map((n) => `DNS:${n}`).join(',')}`, '-keyout', pem(`${file}.key`), '-out', pem(`${file}.pem`)], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(r.stderr);
  }

  beforeAll(() => {
    dir = tempDir();
    makeCert('default', ['default.test']);
    makeCert('a', ['a.example']);
    makeCert('wild', ['*.example.org']);
    makeCert('next', ['next.test']);
    makeCert('other', ['other.test']);
  });

  const tlsConfig = (): { cert_path: string; key_path: string; certs: Array<{ server_names: string[]; cert_path: string; key_path: string }>; alpn: string[] } => ({
    cert_path: pem('default.pem'),
    key_path: pem('default.key'),
    certs: [
      { server_names: ['a.example'], cert_path: pem('a.pem'), key_path: pem('a.key') },
      { server_names: ['*.example.org'], cert_path: pem('wild.pem'), key_path: pem('wild.key') },
    ],
    alpn: ['h2', 'http/1.1'],
  });

  /** What `openssl s_client` sees: the certificate's subject CN and the ALPN answer. */
  function sClient(port: number, servername: string | undefined, alpn = 'h2,http/1.1'): Promise<{ cn: string; alpn: string }> {
    const args = ['s_client', '-connect', `127.0.0.1:${port}`, '-alpn', alpn, ...(servername ? ['-servername', servername] : ['-noservername'])];
    return new Promise((resolve, reject) => {
      const child = execFile('openssl', args, { timeout: 10_000 }, (err, stdout) => {
        if (err && !stdout) return reject(err);
        resolve({ cn: stdout.match(/subject=.*CN\s*=\s*([^\s,/]+)/)?.[1] ?? '', alpn: stdout.match(/ALPN protocol: (\S+)/)?.[1] ?? 'none' });
      });
      child.stdin?.end();
    });
  }

  /** The CN of the certificate a Node client gets (and the socket, to reuse its session). */
  function certName(port: number, servername: string, session?: Buffer): Promise<{ cn: string; reused: boolean; session: Buffer | undefined }> {
    return new Promise((resolve, reject) => {
      const s: TLSSocket = tlsConnect({ host: '127.0.0.1', port, servername, rejectUnauthorized: false, ...(session ? { session } : {}) });
      let got: Buffer | undefined;
      s.on('session', (b: Buffer) => (got = b));
      s.once('secureConnect', () => {
        const cn = String(s.getPeerCertificate().subject?.CN ?? '');
        const reused = s.isSessionReused();
        // TLS 1.3 sends its ticket just after the handshake: read a little before closing.
        s.write('x');
        s.once('data', () => {
          s.end();
          resolve({ cn, reused, session: got });
        });
      });
      s.once('error', reject);
    });
  }

  test('SNI picks the exact name, then a wildcard, then the default; ALPN answers h2 (openssl s_client)', async () => {
    const l = await open({ addr: '127.0.0.1:0', tls: tlsConfig() }, echoHandler);
    const port = portOf(l);
    await expect(sClient(port, 'a.example')).resolves.toEqual({ cn: 'a.example', alpn: 'h2' });
    await expect(sClient(port, 'www.example.org')).resolves.toEqual({ cn: '*.example.org', alpn: 'h2' });
    await expect(sClient(port, 'deep.www.example.org')).resolves.toMatchObject({ cn: 'default.test' });
    await expect(sClient(port, 'unknown.test', 'http/1.1')).resolves.toEqual({ cn: 'default.test', alpn: 'http/1.1' });
    await expect(sClient(port, undefined)).resolves.toMatchObject({ cn: 'default.test' });
  });

  test('the default ALPN is http/1.1 only; an alpn entry the service does not serve is refused', async () => {
    const l = await open({ addr: '127.0.0.1:0', tls: { cert_path: pem('default.pem'), key_path: pem('default.key') } }, echoHandler);
    await expect(sClient(portOf(l), 'x.test')).resolves.toEqual({ cn: 'default.test', alpn: 'http/1.1' });
    await expect(openListener({ addr: '127.0.0.1:0', tls: tlsConfig() }, echoHandler, { alpnServed: ['http/1.1'] })).rejects.toThrow(
      'listener 127.0.0.1:0: tls.alpn offers h2, which this service does not serve (it serves http/1.1)',
    );
  });

  test('sessions resume with a ticket', async () => {
    const l = await open({ addr: '127.0.0.1:0', tls: tlsConfig() }, echoHandler);
    const first = await certName(portOf(l), 'a.example');
    expect(first.session).toBeDefined();
    // A resumed TLS 1.3 session sends no certificate: `reused` is what tells. Several times:
    // each connection may land on another of the listener's accept handles.
    for (let i = 0; i < 8; i++) await expect(certName(portOf(l), 'a.example', first.session)).resolves.toMatchObject({ reused: true });
  });

  test('a certificate swapped on disk is served to new connections; an open one is untouched', async () => {
    writeFileSync(pem('live.pem'), readFileSync(pem('default.pem')));
    writeFileSync(pem('live.key'), readFileSync(pem('default.key')));
    const logger = recordingLogger();
    const l = await open({ addr: '127.0.0.1:0', tls: { cert_path: pem('live.pem'), key_path: pem('live.key') } }, echoHandler, { logger });
    const port = portOf(l);
    await expect(certName(port, 'x.test')).resolves.toMatchObject({ cn: 'default.test' });
    const open1 = tlsConnect({ host: '127.0.0.1', port, rejectUnauthorized: false });
    await new Promise((r) => open1.once('secureConnect', r));
    // Replaced the way deploy tools do it: new files renamed over the old ones.
    writeFileSync(pem('live.key.tmp'), readFileSync(pem('next.key')));
    writeFileSync(pem('live.pem.tmp'), readFileSync(pem('next.pem')));
    renameSync(pem('live.key.tmp'), pem('live.key'));
    renameSync(pem('live.pem.tmp'), pem('live.pem'));
    await waitUntil(() => logger.lines.some((line) => line.includes('TLS certificates reloaded')), 3000, 'the reload');
    await expect(certName(port, 'x.test')).resolves.toMatchObject({ cn: 'next.test' });
    const echoed = await new Promise<string>((resolve) => {
      open1.once('data', (d: Buffer) => resolve(d.toString()));
      open1.write('still here');
    });
    expect(echoed).toBe('still here');
    open1.destroy();
  });

  test('a busy file next to the certificate (a log) does not hold the reload back', async () => {
    writeFileSync(pem('busy.pem'), readFileSync(pem('default.pem')));
    writeFileSync(pem('busy.key'), readFileSync(pem('default.key')));
    const logger = recordingLogger();
    const l = await open({ addr: '127.0.0.1:0', tls: { cert_path: pem('busy.pem'), key_path: pem('busy.key') } }, echoHandler, { logger });
    // Written every 50 ms, for longer than the reload may take: each write is a directory event.
    const log = setInterval(() => appendFileSync(pem('access.log'), 'line\n'), 50);
    try {
      await sleep(400);
      expect(logger.lines.some((line) => line.includes('TLS certificates'))).toBe(false); // the log alone is no reason to re-read
      writeFileSync(pem('busy.key'), readFileSync(pem('next.key')));
      writeFileSync(pem('busy.pem'), readFileSync(pem('next.pem')));
      await waitUntil(() => logger.lines.some((line) => line.includes('TLS certificates reloaded')), 2500, 'the reload under a busy log');
      await expect(certName(portOf(l), 'x.test')).resolves.toMatchObject({ cn: 'next.test' });
    } finally {
      clearInterval(log);
    }
  });

  test('a broken new certificate is logged and the old one kept; reload() says so', async () => {
    writeFileSync(pem('keep.pem'), readFileSync(pem('default.pem')));
    writeFileSync(pem('keep.key'), readFileSync(pem('default.key')));
    const logger = recordingLogger();
    const l = await open({ addr: '127.0.0.1:0', tls: { cert_path: pem('keep.pem'), key_path: pem('keep.key') } }, echoHandler, { logger, watchCertificates: false });
    writeFileSync(pem('keep.pem'), readFileSync(pem('other.pem'))); // its key stays the old one: a mismatch
    expect(l.reload()).toBe('failed');
    expect(logger.lines.join('\n')).toContain(`error new TLS certificate is unusable; still serving the old one {"listener":"127.0.0.1:0","key":"tls.key_path","reason":"${pem('keep.key')} does not match the certificate ${pem('keep.pem')}"}`);
    await expect(certName(portOf(l), 'x.test')).resolves.toMatchObject({ cn: 'default.test' });
    writeFileSync(pem('keep.key'), readFileSync(pem('other.key')));
    expect(l.reload()).toBe('reloaded');
    expect(l.reload()).toBe('unchanged');
    await expect(certName(portOf(l), 'x.test')).resolves.toMatchObject({ cn: 'other.test' });
  });

  test('readCaFile returns the PEM text, or one ConfError line naming the key', () => {
    const at = { file: 'conf.yaml', path: ['upstreams', 'tls', 'ca_path'] };
    expect(readCaFile(pem('a.pem'), at)).toBe(readFileSync(pem('a.pem'), 'utf8'));
    expect(() => readCaFile(join(dir, 'missing.pem'), at)).toThrow(
      `conf.yaml: upstreams.tls.ca_path: cannot read ${join(dir, 'missing.pem')} (ENOENT: no such file or directory)`,
    );
    expect(() => readCaFile(pem('a.key'), at)).toThrow(new RegExp(`^conf\\.yaml: upstreams\\.tls\\.ca_path: ${pem('a.key').replace(/[.]/g, '\\.')} is not a PEM certificate`));
  });

  test('checkTlsConfig / checkListenerConfig: one line with the key path for every problem', () => {
    const at = { file: 'conf.yaml', path: ['services', 0, 'listeners', 1, 'tls'] };
    const fail = (fn: () => void): string => {
      try {
        fn();
      } catch (err) {
        expect(err).toBeInstanceOf(ConfError);
        return (err as Error).message;
      }
      return 'no error';
    };
    expect(() => checkTlsConfig(tlsConfig(), at)).not.toThrow();
    expect(fail(() => checkTlsConfig({ cert_path: join(dir, 'missing.pem'), key_path: pem('a.key') }, at))).toBe(
      `conf.yaml: services[0].listeners[1].tls.cert_path: cannot read ${join(dir, 'missing.pem')} (ENOENT: no such file or directory)`,
    );
    expect(fail(() => checkTlsConfig({ cert_path: pem('a.pem'), key_path: pem('other.key') }, at))).toBe(
      `conf.yaml: services[0].listeners[1].tls.key_path: ${pem('other.key')} does not match the certificate ${pem('a.pem')}`,
    );
    const certs = [{ server_names: ['a.example'], cert_path: pem('a.key'), key_path: pem('a.key') }];
    expect(fail(() => checkTlsConfig({ cert_path: pem('a.pem'), key_path: pem('a.key'), certs }, at))).toMatch(
      new RegExp(`^conf\\.yaml: services\\[0\\]\\.listeners\\[1\\]\\.tls\\.certs\\[0\\]\\.cert_path: ${pem('a.key').replace(/[.]/g, '\\.')} is not a PEM certificate`),
    );
    expect(fail(() => checkListenerConfig({ addr: '127.0.0.1:0', tls: { cert_path: pem('a.pem'), key_path: join(dir, 'nope.key') } }, { file: 'conf.yaml', path: ['listeners', 0] }))).toBe(
      `conf.yaml: listeners[0].tls.key_path: cannot read ${join(dir, 'nope.key')} (ENOENT: no such file or directory)`,
    );
    expect(fail(() => checkListenerConfig({ addr: 'localhost' }, { file: 'conf.yaml', path: ['listeners', 2] }))).toBe('conf.yaml: listeners[2].addr: expected "host:port", "[v6]:port" or "unix:/path"');
  });
});
