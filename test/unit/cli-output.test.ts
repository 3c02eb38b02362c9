import { describe, expect, it } from 'vitest';
import { age, isoTimes } from '../../src/cli/output';

describe('nexusctl output', () => {
  it('turns every *UnixMs field into an ISO time without the suffix (null when unset), at any depth', () => {
    expect(isoTimes({ commandId: 'c', createdAtUnixMs: 1796542518547, finishedAtUnixMs: '0', timeline: [{ event: 'queued', atUnixMs: '1796542518547' }], n: 3 })).toEqual({
      commandId: 'c', createdAt: '2026-12-06T07:35:18.547Z', finishedAt: null, timeline: [{ event: 'queued', at: '2026-12-06T07:35:18.547Z' }], n: 3,
    });
  });

  it('prints ages as kubectl does', () => {
    const now = 1_000_000_000;
    expect([0, 5_000, 119_000, 120_000, 7_199_000, 7_200_000, 172_800_000].map((ms) => age(now - ms, now))).toEqual(['0s', '5s', '119s', '2m', '119m', '2h', '2d']);
    expect(age(0, now)).toBe('-');
  });
});
