import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Logger } from '@pingora-ts/core';
import { Backends, FileDiscovery, LoadBalancer, type Backend } from '../src';
import { waitFor } from './helpers/tcp-server';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'lb-file-discovery-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

const list = (bs: readonly Backend[]): string[] => bs.map((b) => `${b.addr}/${b.weight}`);

/** Replaces the file the safe way: a temp file renamed over it. */
function swap(path: string, text: string): void {
  writeFileSync(`${path}.tmp`, text);
  renameSync(`${path}.tmp`, path);
}

describe('FileDiscovery.parse', () => {
  it('reads YAML and JSON lists of "host:port" or { addr, weight }, or a map with backends', () => {
    const yaml = '- 127.0.0.1:8080\n- addr: 127.0.0.2:8080\n  weight: 2\n- "[::1]:9000"\n';
    expect(list(FileDiscovery.parse(yaml, 'b.yaml'))).toEqual(['127.0.0.1:8080/1', '127.0.0.2:8080/2', '[::1]:9000/1']);
    const json = '{"backends": ["127.0.0.1:8080", {"addr": "api.internal:443", "weight": 5}]}';
    expect(list(FileDiscovery.parse(json, 'b.json'))).toEqual(['127.0.0.1:8080/1', 'api.internal:443/5']);
  });

  it.each([
    ['- a: [\n', /^discovery file f\.yaml: .* at line \d+, column \d+$/],
    ['', /^discovery file f\.yaml: expected a list of backends/],
    ['[]', /^discovery file f\.yaml: lists no backends/],
    ['- 127.0.0.1\n', /^discovery file f\.yaml: backend 1: invalid backend address "127\.0\.0\.1": missing ":port"/],
    ['- 127.0.0.1:1\n- addr: 127.0.0.1:2\n  wieght: 2\n', /^discovery file f\.yaml: backend 2: unknown key "wieght" \(valid: addr, weight\)/],
    ['- addr: 127.0.0.1:2\n  weight: 0\n', /^discovery file f\.yaml: backend 1: invalid weight 0/],
    ['servers: []\n', /^discovery file f\.yaml: unknown key "servers"/],
  ])('rejects %j with the path and the reason', (text, message) => {
    expect(() => FileDiscovery.parse(text, 'f.yaml')).toThrow(message);
  });

  it('readSync names a missing file', () => {
    expect(() => FileDiscovery.readSync(join(dir, 'nope.yaml'))).toThrow(/^discovery file .*nope\.yaml: cannot read it: ENOENT/);
  });
});

describe('FileDiscovery, watched by the background service', () => {
  it('swaps in each change, keeps the last good list on a broken file (logged with path and reason)', async () => {
    const path = join(dir, 'backends.yaml');
    swap(path, '- 127.0.0.1:8001\n- 127.0.0.1:8002\n');
    const logged: string[] = [];
    const log = (o: object, msg?: string): void => void logged.push(`${msg ?? ''} ${String((o as { err?: Error }).err?.message ?? '')}`);
    const logger: Logger = { error: log, warn: log, info: () => {}, debug: () => {} };
    const lb = new LoadBalancer(new Backends(new FileDiscovery(path, { debounceMs: 20, pollIntervalMs: 100 })), { logger });
    const changes: string[][] = [];
    lb.on('change', (bs) => changes.push(list(bs)));
    const ac = new AbortController();
    const done = lb.backgroundService('web').run(ac.signal);
    try {
      await waitFor(() => changes.length === 1, 5000, 'the first list');
      expect(changes[0]).toEqual(['127.0.0.1:8001/1', '127.0.0.1:8002/1']);
      const gen = lb.backends().generation;

      swap(path, '- 127.0.0.1:8002\n- addr: 127.0.0.1:8003\n  weight: 3\n');
      await waitFor(() => changes.length === 2, 5000, 'the renamed file');
      expect(changes[1]).toEqual(['127.0.0.1:8002/1', '127.0.0.1:8003/3']);
      expect(lb.backends().generation).toBe(gen + 1); // one swap, one rebuild

      swap(path, '- 127.0.0.1:8002\n- addr: 127.0.0.1:8004\n  weigth: 3\n');
      await waitFor(() => logged.length > 0, 5000, 'the broken file logged');
      expect(logged[0]).toContain(`discovery file ${path}: backend 2: unknown key "weigth"`);
      expect(list(lb.backends().items())).toEqual(['127.0.0.1:8002/1', '127.0.0.1:8003/3']);

      writeFileSync(path, '[127.0.0.1:8005]\n'); // in place, not renamed: seen too
      await waitFor(() => changes.length === 3, 5000, 'the fixed file');
      expect(changes[2]).toEqual(['127.0.0.1:8005/1']);

      rmSync(path);
      await waitFor(() => logged.some((l) => l.includes('ENOENT')), 5000, 'the missing file logged');
      expect(list(lb.backends().items())).toEqual(['127.0.0.1:8005/1']);
      swap(path, '- 127.0.0.1:8006\n');
      await waitFor(() => changes.length === 4, 5000, 'the file back');
      expect(changes[3]).toEqual(['127.0.0.1:8006/1']);
    } finally {
      ac.abort();
      await done;
    }
  });

  it('polls when fs.watch is off (or says nothing)', async () => {
    const path = join(dir, 'backends.json');
    swap(path, '["127.0.0.1:8001"]');
    const d = new FileDiscovery(path, { debounceMs: 0, pollIntervalMs: 30, fsWatch: false });
    let calls = 0;
    const ac = new AbortController();
    d.watch(() => calls++, ac.signal);
    try {
      await new Promise((r) => setTimeout(r, 60));
      const before = calls;
      writeFileSync(path, '["127.0.0.1:8001", "127.0.0.1:8002"]');
      await waitFor(() => calls > before, 5000, 'a change');
      expect(list(await d.discover())).toEqual(['127.0.0.1:8001/1', '127.0.0.1:8002/1']);
    } finally {
      ac.abort();
    }
  });
});
