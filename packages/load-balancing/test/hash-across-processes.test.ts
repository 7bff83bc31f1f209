import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Backend, FnvHash, Ketama, Maglev, type SelectionAlgorithm } from '@pingora-ts/load-balancing';

const dist = join(__dirname, '..', 'dist', 'index.js');
const ADDRS = ['10.0.0.1:80', '10.0.0.2:80', '10.0.0.3:8080', 'api.internal:443', '[::1]:9000'];
const WEIGHTS = [1, 2, 3, 1, 5];
const KEYS = Array.from({ length: 2000 }, (_, i) => `/p/${i}?u=${(i * 31) % 97}`);

/** The picks of each algorithm for KEYS, computed by a new `node` process on the built package. */
function picksInChild(): Promise<Record<string, string[]>> {
  const script = `
    import { Backend, FnvHash, Ketama, Maglev } from ${JSON.stringify(dist)};
    const backends = ${JSON.stringify(ADDRS)}.map((a, i) => new Backend(a, ${JSON.stringify(WEIGHTS)}[i]));
    const keys = ${JSON.stringify(KEYS)};
    const load = { inflight: () => 0, latencyMs: () => 0 };
    const out = {};
    for (const [name, algo] of [['fnv', new FnvHash()], ['ketama', new Ketama()], ['maglev', new Maglev()]]) {
      const s = algo.build(backends, load);
      out[name] = keys.map((k) => s.iter(k).next().addr);
    }
    process.stdout.write(JSON.stringify(out));
  `;
  return new Promise((resolve, reject) => {
    execFile(process.execPath, ['--input-type=module', '-e', script], { timeout: 20_000, maxBuffer: 16 << 20 }, (err, stdout, stderr) =>
      err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(JSON.parse(stdout) as Record<string, string[]>),
    );
  });
}

describe('hashing selections agree across processes', () => {
  it('a child process on the built package maps every key to the same backend as this one', async () => {
    if (!existsSync(dist)) throw new Error('packages/load-balancing/dist is missing: run `pnpm build` first');
    const child = await picksInChild();
    const backends = ADDRS.map((a, i) => new Backend(a, WEIGHTS[i]));
    const load = { inflight: () => 0, latencyMs: () => 0 };
    const algos: Array<[string, SelectionAlgorithm]> = [
      ['fnv', new FnvHash()],
      ['ketama', new Ketama()],
      ['maglev', new Maglev()],
    ];
    for (const [name, algo] of algos) {
      const s = algo.build(backends, load);
      const here = KEYS.map((k) => s.iter(k).next()!.addr);
      expect(child[name]).toEqual(here);
      // And the picks are spread: every backend gets some keys.
      expect(new Set(here).size).toBe(ADDRS.length);
    }
  });
});
