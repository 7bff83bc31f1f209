import { Backend, LoadBalancer, LoadTracker, type RequestObserver } from '../src';

describe('LoadTracker', () => {
  const a = new Backend('127.0.0.1:1');
  const b = new Backend('127.0.0.1:2');

  it('counts requests in flight per backend, never below zero', () => {
    const t = new LoadTracker();
    t.requestStarted(a);
    t.requestStarted(a);
    t.requestStarted(b);
    expect([t.inflight(a), t.inflight(b)]).toEqual([2, 1]);
    t.requestEnded(a, 'ok', 1);
    t.requestEnded(b, 'ok', 1);
    t.requestEnded(b, 'ok', 1);
    expect([t.inflight(a), t.inflight(b)]).toEqual([1, 0]);
  });

  it('takes a slower sample at once and decays toward faster ones over time', () => {
    let now = 1000;
    const t = new LoadTracker({ decayMs: 1000, now: () => now });
    expect(t.latencyMs(a)).toBe(0);
    t.requestEnded(a, 'ok', 10);
    expect(t.latencyMs(a)).toBe(10);
    t.requestEnded(a, 'ok', 50);
    expect(t.latencyMs(a)).toBe(50); // peak
    now += 1000; // one time constant later, a 10 ms sample weighs 1 - 1/e
    t.requestEnded(a, 'ok', 10);
    expect(t.latencyMs(a)).toBeCloseTo(50 / Math.E + 10 * (1 - 1 / Math.E), 6);
    t.requestEnded(a, 'ok', 10); // no time passed: no weight for the new sample
    expect(t.latencyMs(a)).toBeCloseTo(50 / Math.E + 10 * (1 - 1 / Math.E), 6);
  });

  it('keeps the counters of backends that stay and forgets idle removed ones', () => {
    const t = new LoadTracker();
    t.requestStarted(a);
    t.requestEnded(b, 'ok', 5);
    t.forget([]);
    expect(t.inflight(a)).toBe(1); // still in flight: kept until it ends
    expect(t.latencyMs(b)).toBe(0);
  });
});

describe('LoadBalancer as a RequestObserver', () => {
  it('feeds its tracker, then every added observer', () => {
    const lb = LoadBalancer.fromBackends(['127.0.0.1:1', '127.0.0.1:2']);
    const seen: string[] = [];
    const observer: RequestObserver = {
      requestStarted: (backend) => seen.push(`start ${backend.addr}`),
      requestEnded: (backend, outcome, ms) => seen.push(`end ${backend.addr} ${outcome} ${ms}`),
    };
    lb.observers.push(observer);
    const backend = lb.select('', 1)!;
    lb.requestStarted(backend);
    expect(lb.load.inflight(backend)).toBe(1);
    lb.requestEnded(backend, 'http_5xx', 7);
    expect(lb.load.inflight(backend)).toBe(0);
    expect(seen).toEqual([`start ${backend.addr}`, `end ${backend.addr} http_5xx 7`]);
  });
});
