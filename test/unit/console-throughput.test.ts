import { describe, expect, it } from 'vitest';
import { MAX_SAMPLES, SAMPLE_EVERY_MS, ThroughputSampler } from '../../src/console/throughput';
import { createLogger } from '../../src/shared/logger';
import { waitFor } from '../helpers/wait-for';

describe('console throughput sampler', () => {
  it('samples every 5 s by default and keeps 10 minutes', () => {
    expect(SAMPLE_EVERY_MS).toBe(5000);
    expect(MAX_SAMPLES * SAMPLE_EVERY_MS).toBe(10 * 60_000);
  });

  it('keeps the last 120 samples, oldest first, skips failed reads, and stops on close', async () => {
    let reads = 0;
    const sampler = new ThroughputSampler(async () => {
      reads++;
      if (reads === 3) throw new Error('redis away');
      return { succeeded: reads, failed: 0, dead: 1 };
    }, createLogger('silent'), 2);
    sampler.start();
    sampler.start(); // idempotent: one timer
    await waitFor('more reads than samples kept', () => reads > MAX_SAMPLES + 10);
    sampler.close();
    const samples = sampler.samples();
    expect(samples).toHaveLength(MAX_SAMPLES);
    expect(samples.every((s, i) => i === 0 || (s.succeeded > samples[i - 1].succeeded && s.at >= samples[i - 1].at))).toBe(true);
    expect(samples.some((s) => s.succeeded === 3)).toBe(false);
    // Closed: while another sampler on the same interval reads five times, this one reads no more.
    const after = reads;
    let other = 0;
    const clock = new ThroughputSampler(async () => ({ succeeded: ++other, failed: 0, dead: 0 }), createLogger('silent'), 2);
    clock.start();
    await waitFor('five reads of another sampler', () => other >= 5);
    clock.close();
    expect(reads).toBe(after);
  });
});
