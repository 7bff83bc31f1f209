/**
 * Passive health (OutlierDetector) driven through `lb.requestEnded`, as the proxy and the
 * undici dispatcher report requests; time is jest's fake clock.
 */
import type { Logger } from '@pingora-ts/core';
import { LoadBalancer, OutlierDetector, type EjectionCause, type HealthCheck } from '@pingora-ts/load-balancing';

const A = '10.0.0.1:80';
const B = '10.0.0.2:80';
const C = '10.0.0.3:80';
const D = '10.0.0.4:80';

beforeEach(() => jest.useFakeTimers({ now: 1_000_000 }));
afterEach(() => jest.useRealTimers());

function setup(addrs: string[], passive: ConstructorParameters<typeof OutlierDetector>[1] = {}, extra: Partial<Parameters<typeof LoadBalancer.fromBackends>[1]> = {}) {
  const lines: { level: string; msg: string }[] = [];
  const at = (level: string) => (_o: object, msg?: string) => void lines.push({ level, msg: msg ?? '' });
  const logger: Logger = { error: at('error'), warn: at('warn'), info: at('info'), debug: at('debug') };
  const lb = LoadBalancer.fromBackends(addrs, { passiveHealth: { baseEjectionMs: 10_000, maxEjectionMs: 25_000, ...passive }, logger, ...extra });
  const events: [string, boolean, EjectionCause, number][] = [];
  lb.on('ejection', (b, ejected, cause, until) => events.push([b.addr, ejected, cause, until]));
  const fail = (addr: string, n: number, outcome: 'http_5xx' | 'connect_error' | 'timeout' | 'reset' = 'http_5xx') => {
    const b = lb.backends().get(addr)!;
    for (let i = 0; i < n; i++) {
      lb.requestStarted(b);
      lb.requestEnded(b, outcome, 5);
    }
  };
  const ok = (addr: string) => {
    const b = lb.backends().get(addr)!;
    lb.requestStarted(b);
    lb.requestEnded(b, 'ok', 5);
  };
  return { lb, events, lines, fail, ok, ready: (addr: string) => lb.backends().ready(addr) };
}

describe('OutlierDetector', () => {
  it('ejects after consecutive_5xx 5xx in a row (an ok in between resets the count) and lets it back when the time ends', async () => {
    const t = setup([A, B, C], { consecutive5xx: 3 });
    t.fail(A, 2);
    t.ok(A);
    t.fail(A, 2);
    expect(t.ready(A)).toBe(true);
    t.fail(A, 1);
    expect(t.ready(A)).toBe(false);
    expect(t.lb.backends().isHealthy(A)).toBe(true); // ejected, not unhealthy
    expect(t.events).toEqual([[A, true, 'consecutive_5xx', 1_010_000]]);
    for (let i = 0; i < 6; i++) expect(t.lb.select('', 3)?.addr).not.toBe(A);

    await jest.advanceTimersByTimeAsync(9_999);
    expect(t.ready(A)).toBe(false);
    await jest.advanceTimersByTimeAsync(1);
    expect(t.ready(A)).toBe(true);
    expect(t.events[1]).toEqual([A, false, 'expired', 0]);
    expect(t.lines).toEqual([
      { level: 'warn', msg: `backend ${A} ejected for 10000 ms: consecutive 5xx responses` },
      { level: 'info', msg: `backend ${A} is back from ejection: ejection time over` },
    ]);
  });

  it('ejects after consecutive connect errors, timeouts and resets; a 5xx breaks that run', () => {
    const t = setup([A, B, C], { consecutiveConnectErrors: 3, consecutive5xx: 0 });
    t.fail(A, 1, 'connect_error');
    t.fail(A, 1, 'timeout');
    t.fail(A, 1, 'http_5xx');
    t.fail(A, 1, 'reset');
    t.fail(A, 1, 'connect_error');
    expect(t.ready(A)).toBe(true);
    t.fail(A, 1, 'timeout');
    expect(t.ready(A)).toBe(false);
    expect(t.events[0]!.slice(0, 3)).toEqual([A, true, 'consecutive_connect_errors']);
    t.fail(B, 50, 'http_5xx'); // consecutive5xx: 0 turns that detector off
    expect(t.ready(B)).toBe(true);
  });

  it('ejects for base × times ejected, capped by max, and the count decays while the backend stays in', async () => {
    // Each failing again right after its return: no decay in between.
    const u = setup([C, D], { consecutive5xx: 1 });
    const seen: number[] = [];
    u.lb.on('ejection', (_b, ejected, _c, until) => ejected && seen.push(until - Date.now()));
    for (let i = 0; i < 4; i++) {
      u.fail(C, 1);
      const until = u.lb.backends().ejectedUntil(C);
      await jest.advanceTimersByTimeAsync(until - Date.now());
      expect(u.ready(C)).toBe(true);
    }
    expect(seen).toEqual([10_000, 20_000, 25_000, 25_000]);
    expect(u.lb.outlierDetector!.ejections(C)).toBe(4);
    await jest.advanceTimersByTimeAsync(20_000); // two base times in: the count drops by two
    expect(u.lb.outlierDetector!.ejections(C)).toBe(2);
  });

  it('never ejects more than max_ejection_percent of the backends at once', async () => {
    const t = setup([A, B, C, D], { consecutive5xx: 1, maxEjectionPercent: 50 });
    t.fail(A, 1);
    t.fail(B, 1);
    t.fail(C, 1);
    t.fail(D, 1);
    expect([A, B, C, D].map(t.ready)).toEqual([false, false, true, true]);
    await jest.advanceTimersByTimeAsync(10_000);
    expect([A, B].map(t.ready)).toEqual([true, true]);
    t.fail(C, 1);
    expect(t.ready(C)).toBe(false);

    const none = setup([A, B, C], { consecutive5xx: 1, maxEjectionPercent: 10 });
    none.fail(A, 5);
    expect(none.ready(A)).toBe(true); // 1 of 3 is over 10 %
  });

  it('lets an ejected backend back when an active health check passes', async () => {
    let checks = 0;
    const pass: HealthCheck = { check: async () => void checks++, healthThreshold: () => 1 };
    const t = setup([A, B], { consecutive5xx: 2 }, { healthCheck: pass });
    t.fail(A, 2);
    expect(t.ready(A)).toBe(false);
    await t.lb.runHealthCheck();
    expect(checks).toBe(2);
    expect(t.ready(A)).toBe(true);
    expect(t.events.map((e) => e.slice(0, 3))).toEqual([
      [A, true, 'consecutive_5xx'],
      [A, false, 'active_check'],
    ]);
    expect(t.lines[1]).toEqual({ level: 'info', msg: `backend ${A} is back from ejection: active health check passed` });
    await jest.advanceTimersByTimeAsync(60_000);
    expect(t.events).toHaveLength(2); // the timer was cleared: no second return
  });

  it('ignores answers from an ejected backend and applies ejections decided elsewhere', async () => {
    const t = setup([A, B, C], { consecutive5xx: 2 });
    t.lb.backends().setEjected(B, Date.now() + 5_000, 'shared');
    expect(t.ready(B)).toBe(false);
    t.fail(B, 10);
    expect(t.events).toHaveLength(1);
    expect(t.lb.outlierDetector!.ejections(B)).toBe(1);
    await jest.advanceTimersByTimeAsync(5_000);
    expect(t.ready(B)).toBe(true);
    // An end moved later meanwhile is honoured.
    t.lb.backends().setEjected(C, Date.now() + 1_000, 'shared');
    t.lb.backends().setEjected(C, Date.now() + 3_000, 'shared');
    await jest.advanceTimersByTimeAsync(1_000);
    expect(t.ready(C)).toBe(false);
    await jest.advanceTimersByTimeAsync(2_000);
    expect(t.ready(C)).toBe(true);
  });

  it('can be added by hand as an observer, and validates its options', () => {
    const lb = LoadBalancer.fromBackends([A, B]);
    const d = new OutlierDetector(lb.backends(), { consecutive5xx: 1 });
    lb.observers.push(d);
    lb.requestEnded(lb.backends().get(A)!, 'http_5xx', 1);
    expect(lb.backends().isEjected(A)).toBe(true);
    expect(() => new OutlierDetector(lb.backends(), { consecutive5xx: -1 })).toThrow(/consecutive5xx/);
    expect(() => new OutlierDetector(lb.backends(), { maxEjectionPercent: 120 })).toThrow(/maxEjectionPercent/);
    expect(() => new OutlierDetector(lb.backends(), { baseEjectionMs: 10, maxEjectionMs: 5 })).toThrow(/maxEjectionMs/);
    d.close();
  });
});
