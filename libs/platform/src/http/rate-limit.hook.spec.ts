import { TokenBuckets } from './rate-limit.hook';

describe('TokenBuckets', () => {
  let now = 0;
  const clock = () => now;

  beforeEach(() => {
    now = 1_000;
  });

  it('lets a burst through at once, then one request per refill', () => {
    const buckets = new TokenBuckets({ perSecond: 2, burst: 3 }, clock);
    expect([buckets.take(0), buckets.take(0), buckets.take(0)]).toEqual([0, 0, 0]);
    expect(buckets.take(0)).toBeCloseTo(0.5);
    now += 250;
    expect(buckets.take(0)).toBeCloseTo(0.25);
    now += 250;
    expect(buckets.take(0)).toBe(0);
    expect(buckets.take(0)).toBeCloseTo(0.5);
  });

  it('keeps each key to its own bucket', () => {
    const buckets = new TokenBuckets({ perSecond: 1, burst: 1 }, clock);
    expect(buckets.take(0)).toBe(0);
    expect(buckets.take(0)).toBeGreaterThan(0);
    expect(buckets.take(1)).toBe(0);
  });

  it('refills no further than the burst, however long a key was idle', () => {
    const buckets = new TokenBuckets({ perSecond: 10, burst: 2 }, clock);
    now += 3_600_000;
    expect([buckets.take(0), buckets.take(0)]).toEqual([0, 0]);
    expect(buckets.take(0)).toBeCloseTo(0.1);
  });

  it('does not let refused requests borrow from the future', () => {
    const buckets = new TokenBuckets({ perSecond: 1, burst: 1 }, clock);
    buckets.take(0);
    for (let i = 0; i < 100; i++) expect(buckets.take(0)).toBeCloseTo(1);
    now += 1000;
    expect(buckets.take(0)).toBe(0);
  });
});
