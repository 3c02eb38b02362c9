import { loadavg, uptime } from 'node:os';
import si from 'systeminformation';
import type { HostMetrics } from '../generated/nexus/prime/pulse';

/**
 * Samples real host metrics with systeminformation, at most once per `minAgeMs`: every agent
 * of a process (swarm mode) shares one sampler, so 1,000 agents cost one sample, not 1,000.
 * Concurrent callers share the sample in flight.
 */
export class HostMetricsSampler {
  private latest: { at: number; metrics: HostMetrics } | undefined;
  private inFlight: Promise<HostMetrics> | undefined;

  constructor(private readonly minAgeMs = 1000) {}

  sample(): Promise<HostMetrics> {
    if (this.latest && performance.now() - this.latest.at < this.minAgeMs) return Promise.resolve(this.latest.metrics);
    this.inFlight ??= this.read().finally(() => (this.inFlight = undefined));
    return this.inFlight;
  }

  private async read(): Promise<HostMetrics> {
    const [load, mem] = await Promise.all([si.currentLoad(), si.mem()]);
    const metrics: HostMetrics = {
      cpuPercent: Math.round(load.currentLoad * 100) / 100,
      memoryUsedBytes: mem.active,
      memoryTotalBytes: mem.total,
      loadAverage1m: Math.round(loadavg()[0] * 100) / 100,
      uptimeSeconds: Math.floor(uptime()),
    };
    this.latest = { at: performance.now(), metrics };
    return metrics;
  }
}

/** The sampler shared by every agent of this process unless one is given. */
export const sharedHostMetrics = new HostMetricsSampler();
