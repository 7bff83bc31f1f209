// The harness's pure parts on fixed input: no server is started and no load is run (the
// protocol scenarios are checked by their commands and peer configs only). The TLS
// tests run openssl, cc and the load balancer's `-t` (config check) when they are there.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseBenchOptions } from '../lib/bench-options.mjs';
import { cpuPerRequestNotes } from '../lib/cpu-per-request.mjs';
import { checkScenario, loadScenarios } from '../lib/load-scenarios.mjs';
import { median } from '../lib/median.mjs';
import { SHIM_SOURCE } from '../lib/no-resume-shim.mjs';
import { readPoolStats } from '../lib/pool-stats.mjs';
import { renderBarChartSvg, wrap } from '../lib/render-bar-chart-svg.mjs';
import { mdTable, renderMarkdown, summaryTable } from '../lib/render-markdown.mjs';
import { hasCommand } from '../lib/start-peer.mjs';
import { makeCert } from '../lib/tls-cert.mjs';
import { END, replaceBetweenMarkers, START } from '../lib/update-readme-results.mjs';
import { parseWrkOutput, wrk, wrkScript, wrkTimeMs } from '../lib/wrk.mjs';
import { baselinePeer } from '../peers/index.mjs';
import { ceilingOnTwoCores } from '../scenarios/threads-scaling.mjs';
import { nginxTlsLines } from '../peers/nginx.mjs';
import { percentile, parseH2loadOutput } from '../lib/h2load.mjs';
import { parseClientOutput } from '../lib/node-client.mjs';
import { wantedPeers } from '../lib/own-peers.mjs';
import { skippedRow } from '../lib/run-load-scenario.mjs';
import { haproxyConfig } from '../lib/start-haproxy.mjs';
import { grpcPeers, nginxGrpcBody } from '../peers/grpc-peers.mjs';
import { h2cPeers, nginxH2cBody } from '../peers/h2c-peers.mjs';
import { nginxWsBody, wsPeers } from '../peers/ws-peers.mjs';
import { LB_MAIN, pingoraTsConf } from '../peers/pingora-ts.mjs';
import { cacheHit } from '../lib/cache-hit-probe.mjs';
import { cachePeers, haproxyCacheConfig, nginxCacheBody, PINGORA_CACHE } from '../peers/cache-peers.mjs';
import { CACHEABLE, originLogPath, originRequests } from '../peers/upstream.mjs';

const WRK_TEXT = `Running 5s test @ http://127.0.0.1:18082/
  1 threads and 50 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     3.12ms    1.05ms  41.20ms   91.02%
    Req/Sec    16.10k     1.20k   18.00k    80.00%
  Latency Distribution
     50%    2.90ms
     75%    3.30ms
     90%    3.90ms
     99%    7.08ms
  80123 requests in 5.00s, 9.10MB read
  Socket errors: connect 0, read 3, write 0, timeout 2
  Non-2xx or 3xx responses: 7
Requests/sec:  16024.60
Transfer/sec:      1.82MB
`;

describe('parseWrkOutput', () => {
  test('prefers the JSON line from the Lua done()', () => {
    const out = `${WRK_TEXT}WRK_JSON {"requests":80000,"duration_us":5000000,"bytes":1,"connect":1,"read":2,"write":0,"status":4,"timeout":0,"p50_us":2900.0,"p99_us":7080.0,"p999_us":12500.0,"max_us":41200.0}\n`;
    const r = parseWrkOutput(out);
    expect(r.requests).toBe(80000);
    expect(r.rps).toBe(16000);
    expect(r.p50Ms).toBeCloseTo(2.9);
    expect(r.p99Ms).toBeCloseTo(7.08);
    expect(r.p999Ms).toBeCloseTo(12.5);
    expect(r.errors).toEqual({ status: 4, connect: 1, read: 2, write: 0, timeout: 0 });
    expect(r.errorsTotal).toBe(7);
  });

  test("falls back to wrk's text (no p99.9 there)", () => {
    const r = parseWrkOutput(WRK_TEXT);
    expect(r.requests).toBe(80123);
    expect(r.durationS).toBe(5);
    expect(r.rps).toBeCloseTo(16024.6);
    expect(r.p50Ms).toBeCloseTo(2.9);
    expect(r.p99Ms).toBeCloseTo(7.08);
    expect(r.p999Ms).toBeNaN();
    expect(r.errorsTotal).toBe(12);
  });

  test('says what it got when it cannot parse', () => {
    expect(() => parseWrkOutput('unable to connect to 127.0.0.1:1 Connection refused\n')).toThrow(/Connection refused/);
  });

  test('wrk time units', () => {
    expect(wrkTimeMs('812.50us')).toBeCloseTo(0.8125);
    expect(wrkTimeMs('1.20ms')).toBeCloseTo(1.2);
    expect(wrkTimeMs('2.01s')).toBeCloseTo(2010);
    expect(wrkTimeMs('1.50m')).toBeCloseTo(90000);
    expect(wrkTimeMs('soon')).toBeNaN();
  });

  test('the Lua script sets method, headers and body before done()', () => {
    const lua = wrkScript({ connections: 10, method: 'POST', bodyBytes: 1024, headers: { Connection: 'close' } });
    expect(lua).toContain('wrk.method = "POST"');
    expect(lua).toContain('wrk.headers["Connection"] = "close"');
    expect(lua).toContain('wrk.body = string.rep("x", 1024)');
    expect(lua.indexOf('wrk.method')).toBeLessThan(lua.indexOf('done = function'));
  });
});

describe('renderBarChartSvg', () => {
  const svg = renderBarChartSvg({
    title: 'req/s relative to nginx',
    subtitle: 'a & b <test>',
    series: [
      { name: 'nginx', label: 'nginx' },
      { name: 'pingora-ts', label: 'pingora-ts' },
    ],
    groups: [
      { title: 'keep-alive small GET, c=50', values: { nginx: 1, 'pingora-ts': 0.3 } },
      { title: '64 KiB response, c=50', values: { nginx: 1, 'pingora-ts': Number.NaN } },
    ],
    referenceLabel: 'nginx = 1.00',
  });

  test('is one SVG document with a bar per finite value, escaped text and a reference line', () => {
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg.trim().endsWith('</svg>')).toBe(true);
    expect(svg.match(/<rect [^>]*><title>/g)).toHaveLength(3);
    expect(svg).toContain('a &amp; b &lt;test&gt;');
    expect(svg).toContain('stroke-dasharray');
    expect(svg).toContain('>0.30<');
    expect(svg).not.toContain('NaN');
  });

  test('wraps group labels at spaces', () => {
    expect(wrap('keep-alive small GET, c=50', 12)).toEqual(['keep-alive', 'small GET,', 'c=50']);
  });
});

describe('scenario registry', () => {
  test('loads every scenario file, each valid, in order', async () => {
    const scenarios = await loadScenarios();
    const names = scenarios.map((s) => s.name);
    expect(names).toEqual(expect.arrayContaining(['get-c50', 'get-c500', 'connection-close', 'response-64k', 'upload-1m', 'idle-connections', 'upstream-reuse', 'threads-scaling']));
    expect(new Set(names).size).toBe(names.length);
    for (const s of scenarios) expect(checkScenario(s)).toBeNull();
    const orders = scenarios.map((s) => s.order);
    expect([...orders].sort((a, b) => a - b)).toEqual(orders);
  });

  test('a load scenario builds a wrk command for 127.0.0.1', async () => {
    const get = (await loadScenarios()).find((s) => s.name === 'get-c50');
    if (!get || !('load' in get)) throw new Error('get-c50 is not a load scenario');
    const dir = mkdtempSync(join(tmpdir(), 'bench-test-'));
    try {
      const cmd = get.load({ host: '127.0.0.1', port: 1234, durationS: 2, dir });
      expect(cmd.cmd).toBe('wrk');
      expect(cmd.args).toEqual(expect.arrayContaining(['-c50', '-d2s', 'http://127.0.0.1:1234/']));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('threads scaling: the ceiling on two shared cores', () => {
    // proxy 32 µs a request (99 % of a core at 31,000 req/s), wrk + upstream 14 µs (71,000 req/s direct)
    const c = ceilingOnTwoCores({ rps: 31_000, cpuPct: 99 }, { rps: 71_000 });
    expect(c).toBeCloseTo(2 / (0.99 / 31_000 + 1 / 71_000) / 31_000, 6);
    expect(c).toBeGreaterThan(1.35);
    expect(c).toBeLessThan(1.45);
    expect(ceilingOnTwoCores({ rps: 31_000, cpuPct: 99 }, undefined)).toBeNaN();
    expect(ceilingOnTwoCores({ rps: 31_000, cpuPct: 0 }, { rps: 71_000 })).toBeNaN();
  });

  test('rejects a malformed descriptor', () => {
    expect(checkScenario({ name: 'x', title: 't', measures: 'm', order: 1 })).toMatch(/exactly one/);
    expect(checkScenario({ name: 'Bad Name', title: 't', measures: 'm', order: 1, run: async () => ({}) })).toMatch(/lower-case/);
  });
});

describe('report', () => {
  const res = {
    meta: {
      date: '2026-11-27T12:00:00.000Z',
      mode: 'full' as const,
      rounds: 3,
      durationS: 5,
      warmupS: 2,
      idleConns: 10000,
      runSeconds: 600,
      otherCpuPct: 40,
      noisyPct: 15,
      pinning: 'x',
      machine: { node: 'v20.20.2', cpu: 'AMD EPYC', cores: 2, kernel: '6', nginx: '1.22.1', haproxy: '2.6', wrk: '4.1', commit: 'abcdef0123' },
      peers: [
        { name: 'nginx', label: 'nginx', cpus: '1', config: 'c', skipped: null },
        { name: 'haproxy', label: 'HAProxy', cpus: '1', config: 'c', skipped: 'haproxy not installed' },
        { name: 'pingora-ts', label: 'pingora-ts', cpus: '1', config: 'c', skipped: null },
      ],
      wholeRunPoolStats: [],
      reference: 'nginx',
    },
    sections: [
      {
        kind: 'load' as const,
        name: 'get-c50',
        title: 'keep-alive small GET, c=50',
        measures: 'm',
        connections: 50,
        payload: 'p',
        command: 'wrk -c50',
        inChart: true,
        notes: [],
        rows: [
          { peer: 'nginx', label: 'nginx', rps: 50000, ratio: 1, p50Ms: 0.8, p99Ms: 1.6, p999Ms: 3, errors: 0, cpuPct: 99, rssMaxMiB: 20, processes: 1, rounds: [] },
          { peer: 'pingora-ts', label: 'pingora-ts', rps: 15000, ratio: 0.3, p50Ms: 3, p99Ms: 7, p999Ms: 9, errors: 2, cpuPct: 100, rssMaxMiB: 90, processes: 1, rounds: [] },
        ],
      },
    ],
  };

  test('summary has one column per peer that ran', () => {
    const t = summaryTable(res);
    expect(t.split('\n')[0]).toBe('| scenario | nginx | pingora-ts |');
    expect(t).toContain('| keep-alive small GET, c=50 | 1.00 | 0.30 |');
  });

  test('the Markdown has the facts, the scenario table and the skipped peer', () => {
    const md = renderMarkdown(res, 'latest.svg');
    expect(md).toContain('`abcdef0123`');
    expect(md).toContain('| pingora-ts | 15,000 | 0.30 | 3.00 | 7.00 | 9.00 | 2 | 100 | 90.0 |');
    expect(md).toContain('**skipped**: haproxy not installed');
    expect(md).toContain('![req/s relative to nginx, per scenario](latest.svg)');
    expect(md).toContain('40% of one core on average during the run (**noisy**');
  });

  test('tables right-align numeric columns and escape pipes', () => {
    expect(mdTable(['a', 'b'], [['x|y', 1.5]])).toBe('| a | b |\n|---|---:|\n| x\\|y | 1.50 |');
  });

  test('README block is replaced between the markers only', () => {
    const readme = `# x\n\n${START}\nold\n${END}\n\nrest\n`;
    expect(replaceBetweenMarkers(readme, 'new')).toBe(`# x\n\n${START}\nnew\n${END}\n\nrest\n`);
    expect(() => replaceBetweenMarkers('# no markers', 'new')).toThrow(/no/);
  });
});

describe('options', () => {
  test('--quick is one round of 1 s with fewer idle connections', () => {
    expect(parseBenchOptions(['--quick'])).toMatchObject({ quick: true, rounds: 1, durationS: 1, warmupS: 0, idleConns: 1000 });
    expect(parseBenchOptions([])).toMatchObject({ quick: false, rounds: 3, durationS: 5, idleConns: 10000, out: 'latest' });
    expect(parseBenchOptions(['--quick', '--rounds=2', '--peers', 'nginx,haproxy'])).toMatchObject({ rounds: 2, peers: ['nginx', 'haproxy'] });
    expect(() => parseBenchOptions(['--fast'])).toThrow(/unknown option/);
  });

  test('--baseline DIR adds a peer that runs the load balancer built there', () => {
    expect(parseBenchOptions([]).baseline).toBeNull();
    expect(parseBenchOptions(['--baseline', '/tmp/base']).baseline).toBe('/tmp/base');
    const peer = baselinePeer('/nonexistent/base');
    expect(peer.name).toBe('pingora-ts-base');
    expect(peer.missing?.()).toBe('/nonexistent/base/apps/load_balancer/dist/main.js is missing: run `pnpm build` there first');
  });

  test('median', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([Number.NaN])).toBeNaN();
  });
});

describe('readPoolStats', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'bench-pool-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  test("prefers the error log's pool stats line, summed over processes", async () => {
    const errorLog = join(dir, 'error.log');
    writeFileSync(
      errorLog,
      [
        '{"level":30,"pid":1,"msg":"listening"}',
        '{"level":30,"pid":1,"newConnections":3,"reusedConnections":97,"msg":"pool stats"}',
        '{"level":30,"pid":2,"newConnections":2,"reusedConnections":48,"msg":"pool stats"}',
        'not json "pool stats"',
      ].join('\n'),
    );
    const accessLog = join(dir, 'access.log');
    writeFileSync(accessLog, '{"reused":false}\n');
    expect(await readPoolStats({ errorLog, accessLog })).toEqual({
      source: 'pool stats',
      newConnections: 5,
      reusedConnections: 145,
      accessLog: { newConnections: 1, reusedConnections: 0 },
    });
  });

  test('falls back to counting "reused" in the access log', async () => {
    const accessLog = join(dir, 'access.log');
    writeFileSync(accessLog, ['{"status":200,"reused":false}', '{"status":200,"reused":true}', '{"status":200,"reused":true}', '{"status":502,"reused":null}'].join('\n'));
    expect(await readPoolStats({ errorLog: join(dir, 'missing.log'), accessLog })).toEqual({ source: 'access log', newConnections: 1, reusedConnections: 2 });
    expect(await readPoolStats({ errorLog: join(dir, 'missing.log') })).toBeNull();
  });
});

describe('TLS', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'bench-tls-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));
  const tls = { port: 8443, certPath: '/tmp/x/tls/cert.pem', keyPath: '/tmp/x/tls/key.pem' };

  test('the TLS scenarios are load scenarios aimed at HTTPS listeners', async () => {
    const scenarios = await loadScenarios();
    const keepalive = scenarios.find((s) => s.name === 'tls-keepalive');
    const handshakes = scenarios.find((s) => s.name === 'tls-handshakes');
    if (!keepalive || !('load' in keepalive) || !handshakes || !('load' in handshakes)) throw new Error('TLS scenarios missing');
    expect(keepalive.tls && handshakes.tls).toBe(true);
    const cmd = keepalive.load({ host: '127.0.0.1', port: 1234, durationS: 1, dir, tls: true });
    expect(cmd.args).toEqual(expect.arrayContaining(['-c50', 'https://127.0.0.1:1234/']));
    expect(cmd.env).toBeUndefined();
  });

  test('full handshakes need TLS, and preload a shim that drops the session on reconnect', async () => {
    expect(() => wrk({ host: '127.0.0.1', port: 1, durationS: 1, dir }, { connections: 1, fullHandshakes: true })).toThrow(/TLS/);
    expect(SHIM_SOURCE).toContain('int SSL_clear(SSL *s)');
    expect(SHIM_SOURCE).toContain('"SSL_set_session"');
    if (!hasCommand('cc')) return; // building the shim needs a C compiler
    const handshakes = (await loadScenarios()).find((s) => s.name === 'tls-handshakes');
    if (!handshakes || !('load' in handshakes)) throw new Error('tls-handshakes missing');
    const cmd = handshakes.load({ host: '127.0.0.1', port: 1234, durationS: 1, dir, tls: true });
    expect(cmd.args).toContain('https://127.0.0.1:1234/');
    expect(readFileSync(cmd.args[cmd.args.indexOf('-s') + 1], 'utf8')).toContain('wrk.headers["Connection"] = "close"');
    expect(cmd.env?.LD_PRELOAD).toBe(join(dir, 'no-resume.so'));
    expect(existsSync(join(dir, 'no-resume.so'))).toBe(true);
  });

  test('pingora-ts gets a second listener with the certificate', () => {
    const conf = pingoraTsConf({ threads: 1, base: '/tmp/x/pt', port: 8080, upstreamPort: 9000, accessLog: null, tls });
    expect(conf).toContain(
      'listeners: [{ addr: "127.0.0.1:8080" }, { addr: "127.0.0.1:8443", tls: { cert_path: "/tmp/x/tls/cert.pem", key_path: "/tmp/x/tls/key.pem" } }]',
    );
    expect(pingoraTsConf({ threads: 1, base: '/tmp/x/pt', port: 8080, upstreamPort: 9000, accessLog: null })).toContain('listeners: [{ addr: "127.0.0.1:8080" }]');
  });

  test('nginx serves TLS 1.2 and 1.3 with tickets and no session cache', () => {
    const lines = nginxTlsLines(tls).join('\n');
    expect(lines).toContain('listen 127.0.0.1:8443 ssl');
    expect(lines).toContain('ssl_certificate /tmp/x/tls/cert.pem;');
    expect(lines).toContain('ssl_protocols TLSv1.2 TLSv1.3;');
    expect(lines).toContain('ssl_session_tickets on;');
    expect(lines).toContain('ssl_session_cache none;');
  });

  test('the load balancer accepts the generated TLS config (-t), with a certificate from makeCert', () => {
    if (!hasCommand('openssl') || !existsSync(LB_MAIN)) return; // needs openssl and `pnpm build`
    const cert = makeCert(dir);
    expect(readFileSync(cert.certPath, 'utf8')).toContain('BEGIN CERTIFICATE');
    const file = join(dir, 'lb.yaml');
    writeFileSync(file, pingoraTsConf({ threads: 1, base: join(dir, 'pt'), port: 0, upstreamPort: 9000, accessLog: null, tls: { port: 0, ...cert } }));
    const r = spawnSync(process.execPath, [LB_MAIN, '-t', '-c', file], { encoding: 'utf8' });
    expect(`${r.stdout}${r.stderr}`).toContain('ok');
    expect(r.status).toBe(0);
  });

  test('CPU per request, and a warning when nginx was not saturated', () => {
    const row = (peer: string, label: string, rps: number, cpuPct: number) => ({ peer, label, rps, cpuPct, ratio: 1, p50Ms: 1, p99Ms: 1, p999Ms: 1, errors: 0, rssMaxMiB: 1, processes: 1, rounds: [] });
    const notes = cpuPerRequestNotes([row('nginx', 'nginx', 1000, 50), row('pingora-ts', 'pingora-ts', 1000, 80)], 'handshake');
    expect(notes[0]).toMatch(/wrk was the limit.*nginx used 50%/);
    expect(notes[1]).toContain('nginx 500 µs, pingora-ts 800 µs (×1.60)');
    expect(cpuPerRequestNotes([row('nginx', 'nginx', 1000, 95)], 'request')).toHaveLength(1);
  });
});

describe('protocol scenarios (h2c, gRPC, WebSocket)', () => {
  const H2LOAD_TEXT = `Application protocol: h2c
finished in 5.00s, 41000.00 req/s, 2.50MB/s
requests: 205010 total, 205110 started, 205010 done, 205000 succeeded, 10 failed, 4 errored, 1 timeout
status codes: 204990 2xx, 10 3xx, 3 4xx, 2 5xx
traffic: 12.51MB (13120640) total, 5.28MB (5535270) headers (space savings 95.12%), 1.17MB (1230060) data
`;

  test('h2load: req/s counts 2xx and 3xx, percentiles come from the log file', () => {
    const log = ['1\t200\t1000', '2\t200\t2000', '3\t-1\t9000', '4\t200\t3000', '5\t502\t9000'].join('\n');
    const r = parseH2loadOutput(H2LOAD_TEXT, log);
    expect(r.requests).toBe(205000);
    expect(r.durationS).toBe(5);
    expect(r.rps).toBe(41000);
    expect(r.errors).toEqual({ status: 5, connect: 0, read: 14, write: 0, timeout: 1 });
    expect(r.errorsTotal).toBe(20);
    expect(r.p50Ms).toBe(2);
    expect(r.p99Ms).toBe(3);
    expect(parseH2loadOutput(H2LOAD_TEXT).p50Ms).toBeNaN();
    expect(() => parseH2loadOutput('No protocol negotiated\n')).toThrow(/No protocol/);
    expect(percentile([1, 2, 3, 4], 50)).toBe(2);
  });

  test("a Node client's done line becomes a load result; all calls failed is an error", () => {
    const ok = parseClientOutput('noise\n{"event":"done","requests":500,"durationS":2,"p50Ms":1,"p99Ms":4,"p999Ms":9,"errors":{"status":3},"firstError":"x"}\n');
    expect(ok).toMatchObject({ requests: 500, rps: 250, p50Ms: 1, p99Ms: 4, p999Ms: 9, errorsTotal: 3 });
    expect(ok.errors).toEqual({ status: 3, connect: 0, read: 0, write: 0, timeout: 0 });
    expect(() => parseClientOutput('{"event":"done","requests":0,"durationS":2,"errors":{"connect":50},"firstError":"Unexpected server response: 200"}\n')).toThrow(
      /every call failed: Unexpected server response: 200/,
    );
    expect(() => parseClientOutput('Error: boom\n')).toThrow(/no "done" line/);
  });

  test('the scenarios: h2-get runs by default with h2load, the others only when named', async () => {
    const scenarios = await loadScenarios();
    const get = (name: string) => {
      const s = scenarios.find((x) => x.name === name);
      if (!s) throw new Error(`${name} missing`);
      return s;
    };
    const h2 = get('h2-get');
    const grpc = get('grpc-unary');
    const ws = get('ws-echo');
    const mem = get('h2-stream-memory');
    expect(h2.optional).toBeFalsy();
    expect(grpc.optional && ws.optional && mem.optional).toBe(true);
    if (!('load' in h2) || !('load' in grpc) || !('load' in ws)) throw new Error('not load scenarios');
    expect(h2.needs).toEqual(['h2load']);
    expect([grpc.reference, ws.reference, grpc.unit, ws.unit]).toEqual(['direct', 'direct', 'calls/s', 'msgs/s']);
    const dir = mkdtempSync(join(tmpdir(), 'bench-proto-'));
    try {
      const t = { host: '127.0.0.1', port: 1234, durationS: 5, dir };
      const h2cmd = h2.load(t);
      expect(h2cmd.cmd).toBe('h2load');
      expect(h2cmd.args).toEqual(expect.arrayContaining(['-c10', '-m10', '-D5', 'http://127.0.0.1:1234/']));
      expect(h2cmd.describe).toBe('h2load -c10 -m10 -t1 -D5 http://127.0.0.1:PORT/');
      expect(grpc.load(t).args.slice(1)).toEqual(['1234', '5', '50']);
      expect(ws.load(t).args.slice(1)).toEqual(['1234', '5', '50', '64']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('peer configs: nginx h2c, grpc_pass and WebSocket; HAProxy proto h2', () => {
    const h2c = nginxH2cBody({ port: 8080, h1Port: 8081, upstreamPort: 9000 });
    expect(h2c).toContain('listen 127.0.0.1:8080 http2 backlog=4096;');
    expect(h2c).toContain('listen 127.0.0.1:8081 backlog=4096;');
    expect(h2c).toContain('proxy_max_temp_file_size 0;');
    const grpc = nginxGrpcBody({ port: 8080, upstreamPort: 9000 });
    expect(grpc).toContain('listen 127.0.0.1:8080 http2');
    expect(grpc).toContain('grpc_pass grpc://grpc_up;');
    const ws = nginxWsBody({ port: 8080, upstreamPort: 9000 });
    expect(ws).toContain('proxy_set_header Upgrade $http_upgrade;');
    expect(ws).toContain('proxy_set_header Connection $connection_upgrade;');
    const ha = haproxyConfig({ binds: ['bind 127.0.0.1:8080 proto h2'], server: 'server grpc 127.0.0.1:9000 proto h2', extra: ['timeout tunnel 1h'] });
    expect(ha).toContain('\n  bind 127.0.0.1:8080 proto h2\n');
    expect(ha).toContain('\n  server grpc 127.0.0.1:9000 proto h2\n');
    expect(ha).toContain('\n  timeout tunnel 1h\n');
  });

  test('pingora-ts: upstreams.alpn and listener h2c: false only when asked', () => {
    const base = { threads: 1, base: '/tmp/x/pt', port: 8080, upstreamPort: 9000, accessLog: null };
    expect(pingoraTsConf(base)).not.toMatch(/alpn|h2c/);
    const conf = pingoraTsConf({ ...base, alpn: 'h2', h2c: false });
    expect(conf).toContain('listeners: [{ addr: "127.0.0.1:8080", h2c: false }]');
    expect(conf).toContain('      backends: ["127.0.0.1:9000"]\n      alpn: h2\n');
  });

  test('peers of a protocol scenario: --peers keeps the reference; baseline adds pingora-ts-base', () => {
    const names = (ps: { name: string }[]) => ps.map((p) => p.name);
    expect(names(grpcPeers())).toEqual(['direct', 'nginx', 'haproxy', 'pingora-ts']);
    expect(names(wsPeers())).toEqual(['direct', 'nginx', 'haproxy', 'http-proxy', 'pingora-ts']);
    expect(names(h2cPeers({ baseline: '/tmp/base' }))).toEqual(['nginx', 'haproxy', 'pingora-ts', 'pingora-ts-base']);
    expect(names(wantedPeers(parseBenchOptions(['--peers', 'pingora-ts']), grpcPeers(), 'direct'))).toEqual(['direct', 'pingora-ts']);
    expect(grpcPeers().every((p) => typeof p.ready === 'function')).toBe(true);
  });

  test('a skipped peer gets its reason in the table, and ratios to direct stay out of the nginx summary', () => {
    const row = (peer: string, rps: number, ratio: number) => ({ peer, label: peer, rps, ratio, p50Ms: 1, p99Ms: 2, p999Ms: 3, errors: 0, cpuPct: 50, rssMaxMiB: 20, processes: 1, rounds: [] });
    const section = {
      kind: 'load' as const,
      name: 'grpc-unary',
      title: 'gRPC unary',
      measures: 'm',
      connections: 1,
      payload: 'p',
      command: 'node clients/grpc-unary-client.mjs PORT 5 50',
      unit: 'calls/s',
      reference: 'direct',
      inChart: false,
      notes: [],
      rows: [row('direct', 1000, 1), row('nginx', 650, 0.65), skippedRow({ name: 'pingora-ts', label: 'pingora-ts', reason: 'does not pass a gRPC call: UNAVAILABLE' })],
    };
    const res = {
      meta: {
        date: '2026-12-03T12:00:00.000Z',
        mode: 'full' as const,
        rounds: 3,
        durationS: 5,
        warmupS: 2,
        idleConns: 10000,
        runSeconds: 60,
        otherCpuPct: 0,
        noisyPct: 15,
        pinning: 'x',
        machine: { node: 'v20', cpu: 'x', cores: 2, kernel: '6', nginx: '1.22.1', haproxy: '2.6', wrk: '4.1', commit: 'abc' },
        peers: [
          { name: 'nginx', label: 'nginx', cpus: '1', config: 'c', skipped: null },
          { name: 'pingora-ts', label: 'pingora-ts', cpus: '1', config: 'c', skipped: null },
        ],
        wholeRunPoolStats: [],
        reference: 'nginx',
      },
      sections: [section],
    };
    const md = renderMarkdown(res, 'x.svg');
    expect(md).toContain('| proxy | calls/s | vs direct |');
    expect(md).toContain('(1 connection; p)');
    expect(md).toContain('| pingora-ts | skipped: does not pass a gRPC call: UNAVAILABLE | - |');
    expect(md).toContain('| nginx | 650 | 0.65 |');
    expect(summaryTable(res)).toBe('No scenario in this run has ratios to nginx.');
  });
});

describe('cache-hit scenario', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'bench-cache-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  test('runs only when named, with its own peers: nginx is the reference, pingora-ts gets services[].cache', async () => {
    const s = (await loadScenarios()).find((x) => x.name === 'cache-hit');
    if (!s) throw new Error('cache-hit missing');
    expect(s.optional).toBe(true);
    expect('run' in s).toBe(true);
    expect(cachePeers().map((p) => p.name)).toEqual(['nginx', 'nginx-defaults', 'haproxy', 'pingora-ts']);
    expect(cachePeers({ baseline: '/tmp/base' }).map((p) => p.name)).toContain('pingora-ts-base');
    expect(cachePeers().every((p) => typeof p.ready === 'function')).toBe(true);
    expect(CACHEABLE.small.path).not.toBe(CACHEABLE.large.path);
    expect(CACHEABLE.large.bytes).toBe(64 * 1024);
  });

  test('peer configs: nginx proxy_cache stores by the headers, HAProxy cache section, the load balancer cache key', () => {
    const tuned = nginxCacheBody({ port: 8080, upstreamPort: 9000, cacheDir: '/tmp/x/cache', tuned: true });
    expect(tuned).toMatch(/proxy_cache_path \/tmp\/x\/cache .*keys_zone=bench:\S+ max_size=256m/);
    expect(tuned).toContain('proxy_cache bench;');
    expect(tuned).toContain('add_header X-Cache-Status $upstream_cache_status always;');
    expect(tuned).not.toContain('proxy_cache_valid');
    expect(tuned).toContain('open_file_cache');
    expect(nginxCacheBody({ port: 8080, upstreamPort: 9000, cacheDir: '/tmp/x/cache', tuned: false })).not.toMatch(/open_file_cache|sendfile/);
    const ha = haproxyCacheConfig({ port: 8080, upstreamPort: 9000 });
    expect(ha).toContain('\ncache bench\n  total-max-size 256\n  max-object-size 8388608\n  max-age 600\nfrontend fe\n');
    expect(ha).toContain('\n  http-response set-header X-Cache-Status HIT if { res.cache_hit }\n');
    expect(ha).toContain('\nbackend be\n  http-request cache-use bench\n  http-response cache-store bench\n  server up 127.0.0.1:9000\n');
    const conf = pingoraTsConf({ threads: 1, base: '/tmp/x/pt', port: 8080, upstreamPort: 9000, accessLog: null, cache: PINGORA_CACHE });
    expect(conf).toContain('\n    cache: { enabled: true, max_size_bytes: 268435456, max_object_bytes: 8388608 }\n');
    expect(pingoraTsConf({ threads: 1, base: '/tmp/x/pt', port: 8080, upstreamPort: 9000, accessLog: null })).not.toContain('cache');
  });

  test('the load balancer accepts the generated cache config (-t)', () => {
    if (!existsSync(LB_MAIN)) return; // needs `pnpm build`
    const file = join(dir, 'lb.yaml');
    writeFileSync(file, pingoraTsConf({ threads: 1, base: join(dir, 'pt'), port: 0, upstreamPort: 9000, accessLog: null, cache: PINGORA_CACHE }));
    const r = spawnSync(process.execPath, [LB_MAIN, '-t', '-c', file], { encoding: 'utf8' });
    expect(`${r.stdout}${r.stderr}`).toContain('ok');
    expect(r.status).toBe(0);
  });

  test("origin requests are the lines of the upstream's cache log", () => {
    expect(originRequests(dir)).toBe(0);
    mkdirSync(join(dir, 'upstream', 'logs'), { recursive: true });
    writeFileSync(originLogPath(dir), '127.0.0.1 - - "GET /cache/small"\n127.0.0.1 - - "GET /cache/64k"\n');
    expect(originRequests(dir)).toBe(2);
  });

  test('the probe passes once a response says HIT, and says why when none does', async () => {
    let requests = 0;
    let hitFrom = 2;
    const server: Server = createServer((req, res) => {
      requests++;
      res.setHeader('X-Cache-Status', requests >= hitFrom ? 'HIT' : 'MISS');
      res.end(req.url === CACHEABLE.small.path ? 'hello\n' : 'no');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as AddressInfo;
    try {
      await cacheHit(port, CACHEABLE.small);
      expect(requests).toBe(2);
      hitFrom = Infinity;
      await expect(cacheHit(port, CACHEABLE.small)).rejects.toThrow(/not served from the cache: X-Cache-Status MISS after 10 requests/);
      await expect(cacheHit(port, { path: '/other', bytes: 6 })).rejects.toThrow(/sent 2 bytes, not 6/);
    } finally {
      await new Promise((r) => server.close(r));
    }
  });
});
