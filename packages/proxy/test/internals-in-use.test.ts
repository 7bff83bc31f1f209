/**
 * The proxy's side of core's Node internals (`@pingora-ts/core/internal`, tested there): the
 * fast path runs on llhttp and reads into the shared buffer (and says so in its start line),
 * and without llhttp the proxy falls back to node:http and says why.
 */
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';
import { HttpPeer } from '@pingora-ts/proxy';
import { llhttp } from '@pingora-ts/core/internal';
import { chooseDownstream } from '../src/downstream/choose-downstream';
import { MemoryLogger, Resources, startProxy } from './resources';

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

test('without the internal parser, HttpProxy runs on node:http and warns at listen()', () => {
  const dir = path.join(__dirname, 'fixtures');
  const out = execFileSync(process.execPath, ['--require', path.join(dir, 'no-llhttp.cjs'), path.join(dir, 'fallback-proxy.cjs')], { encoding: 'utf8', timeout: 20_000 });
  const seen = JSON.parse(out) as { downstream: string; start: unknown; body: string };
  expect(seen.downstream).toBe('node:http');
  expect(seen.start).toMatchObject({ level: 'warn', obj: { downstream: 'node:http', reason: 'node:_http_common has no HTTPParser or methods' } });
  expect(seen.body).toBe('via node:http');
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
