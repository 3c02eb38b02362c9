import { describe, expect, it } from 'vitest';
import { HostMetricsSampler } from '../../src/agent/host-metrics';

describe('HostMetricsSampler', () => {
  it('reports the CPU busy share since the last sample, and real memory', async () => {
    const sampler = new HostMetricsSampler(0);
    // Burn one core for 300 ms: at least that much busy time lies between the two samples.
    const until = performance.now() + 300;
    while (performance.now() < until) Math.sqrt(Math.random());
    const metrics = await sampler.sample();
    expect(metrics.cpuPercent).toBeGreaterThan(0);
    expect(metrics.cpuPercent).toBeLessThanOrEqual(100);
    expect(metrics.memoryTotalBytes).toBeGreaterThan(metrics.memoryUsedBytes);
    expect(metrics.memoryUsedBytes).toBeGreaterThan(0);
  });

  it('shares one sample among callers within its minimum age', async () => {
    const sampler = new HostMetricsSampler(60_000);
    const [a, b] = await Promise.all([sampler.sample(), sampler.sample()]);
    expect(b).toBe(a);
    expect(await sampler.sample()).toBe(a);
  });
});
