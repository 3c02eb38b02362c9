import { describe, expect, it } from 'vitest';
import { backoffCeiling, fullJitterDelay } from '../../src/shared/backoff';

const policy = { initialMs: 1000, maxMs: 60_000 };

describe('full-jitter backoff', () => {
  it('doubles the window per attempt up to the cap', () => {
    expect([0, 1, 2, 3, 5, 6, 7, 40].map((n) => backoffCeiling(policy, n))).toEqual([1000, 2000, 4000, 8000, 32000, 60000, 60000, 60000]);
  });

  it('draws every delay within [0, window]', () => {
    for (let attempt = 0; attempt < 12; attempt++) {
      const ceiling = backoffCeiling(policy, attempt);
      for (let i = 0; i < 500; i++) {
        const d = fullJitterDelay(policy, attempt);
        expect(d).toBeGreaterThanOrEqual(0);
        expect(d).toBeLessThanOrEqual(ceiling);
      }
    }
    expect(fullJitterDelay(policy, 3, () => 0)).toBe(0);
    expect(fullJitterDelay(policy, 3, () => 0.999999)).toBe(7999);
  });

  it('spreads a fleet over the whole window instead of clustering', () => {
    // 5,000 agents failing together at attempt 6 (window 60 s): count them per 6 s bucket.
    const buckets = new Array(10).fill(0);
    for (let i = 0; i < 5000; i++) buckets[Math.floor(fullJitterDelay(policy, 6) / 6000)]++;
    // Uniform: 500 per bucket. Plain exponential backoff would put all 5,000 in one bucket,
    // and "equal jitter" none in the first half of the window.
    for (const count of buckets) {
      expect(count).toBeGreaterThan(350);
      expect(count).toBeLessThan(650);
    }
  });
});
