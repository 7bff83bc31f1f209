import { HealthStatus } from '../src/health/health-status';

describe('HealthStatus', () => {
  it('starts healthy, enabled and ready', () => {
    const h = new HealthStatus();
    expect([h.healthy, h.enabled, h.ready]).toEqual([true, true, true]);
  });

  it('flips to unhealthy only after `threshold` failures in a row', () => {
    const h = new HealthStatus();
    expect(h.observe(false, 2)).toBe(false);
    expect(h.healthy).toBe(true);
    expect(h.observe(true, 3)).toBe(false); // a success in between resets the count
    expect(h.observe(false, 2)).toBe(false);
    expect(h.observe(false, 2)).toBe(true);
    expect(h.healthy).toBe(false);
  });

  it('flips back only after `threshold` successes in a row', () => {
    const h = new HealthStatus();
    h.observe(false, 1);
    expect(h.observe(true, 3)).toBe(false);
    expect(h.observe(true, 3)).toBe(false);
    expect(h.observe(false, 2)).toBe(false); // agrees with "unhealthy": resets
    expect(h.observe(true, 3)).toBe(false);
    expect(h.observe(true, 3)).toBe(false);
    expect(h.observe(true, 3)).toBe(true);
    expect(h.healthy).toBe(true);
  });

  it('treats a threshold below 1 as 1, and set() forces the state', () => {
    const h = new HealthStatus();
    expect(h.observe(false, 0)).toBe(true);
    expect(h.set(false)).toBe(false);
    expect(h.set(true)).toBe(true);
    h.enabled = false;
    expect(h.ready).toBe(false);
  });
});
