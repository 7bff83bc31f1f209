import { Backend, Random } from '@pingora-ts/load-balancing';
import { seeded } from '../../../test-support/seeded';

describe('Random', () => {
  const list = [new Backend('10.0.0.1:80', 1), new Backend('10.0.0.2:80', 3)];

  it('maps the random number onto the weights', () => {
    const at = (x: number) => new Random(() => x).build(list).iter('').next();
    expect(at(0)).toBe(list[0]);
    expect(at(0.2499)).toBe(list[0]);
    expect(at(0.25)).toBe(list[1]);
    expect(at(0.9999)).toBe(list[1]);
  });

  it('follows the weights over many picks', () => {
    const selector = new Random(seeded(42)).build(list);
    let second = 0;
    for (let i = 0; i < 20000; i++) if (selector.iter('').next() === list[1]) second++;
    expect(second / 20000).toBeGreaterThan(0.73);
    expect(second / 20000).toBeLessThan(0.77);
  });

  it('yields the other backends after the pick, then ends', () => {
    const iter = new Random(() => 0.9).build(list).iter('');
    expect([iter.next(), iter.next(), iter.next()]).toEqual([list[1], list[0], null]);
    expect(new Random().build([]).iter('').next()).toBeNull();
  });
});
