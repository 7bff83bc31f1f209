import { FrequencySketch } from '../src/frequency-sketch';
import { hashKey } from '../src/key-hash';

describe('FrequencySketch', () => {
  it('counts each key, saturating at 15 (4-bit counters)', () => {
    const s = new FrequencySketch(1024);
    const a = hashKey('a');
    expect(s.frequency(a)).toBe(0);
    for (let i = 0; i < 5; i++) s.increment(a);
    expect(s.frequency(a)).toBe(5);
    for (let i = 0; i < 50; i++) s.increment(a);
    expect(s.frequency(a)).toBe(15);
    expect(s.frequency(hashKey('b'))).toBeLessThanOrEqual(1);
  });

  it('halves every counter after 10 × width increments (aging)', () => {
    const s = new FrequencySketch(16);
    const hot = hashKey('hot');
    for (let i = 0; i < 12; i++) s.increment(hot);
    expect(s.frequency(hot)).toBe(12);
    // Other keys push the additions past 160: one halving.
    for (let i = 0; s.frequency(hot) === 12 && i < 1_000; i++) s.increment(hashKey(`k${i}`));
    expect(s.frequency(hot)).toBe(6);
  });

  it('sizes its width as a power of two, and grows', () => {
    expect(FrequencySketch.widthFor(1)).toBe(16);
    expect(FrequencySketch.widthFor(1000)).toBe(1024);
    const s = new FrequencySketch(100);
    s.ensureCapacity(5000);
    expect(s.width).toBe(8192);
  });
});
