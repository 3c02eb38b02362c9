import { cpus, loadavg, uptime } from 'node:os';
import si from 'systeminformation';
import type { HostMetrics } from '../generated/nexus/prime/pulse';

/**
 * Samples real host metrics with systeminformation, at most once per `minAgeMs`: every agent
 * of a process (swarm mode) shares one sampler, so 1,000 agents cost one sample, not 1,000.
 * Concurrent callers share the sample in flight.
 *
 * CPU load comes from `os.cpus()` time counters, not `si.currentLoad()`: on Linux that runs
 * `execSync('cat /proc/stat | grep cpu')` per sample, a shell that blocks every agent of the
 * process for milliseconds. The percentage is the busy share since the previous sample, as
 * systeminformation computes it.
 */
export class HostMetricsSampler {
  private latest: { at: number; metrics: HostMetrics } | undefined;
  private inFlight: Promise<HostMetrics> | undefined;
  private cpuTimes = totalCpuTimes();

  constructor(private readonly minAgeMs = 1000) {}

  sample(): Promise<HostMetrics> {
    if (this.latest && performance.now() - this.latest.at < this.minAgeMs) return Promise.resolve(this.latest.metrics);
    this.inFlight ??= this.read().finally(() => (this.inFlight = undefined));
    return this.inFlight;
  }

  private async read(): Promise<HostMetrics> {
    const mem = await si.mem();
    const now = totalCpuTimes();
    const total = now.total - this.cpuTimes.total;
    const busy = total > 0 ? (100 * (total - (now.idle - this.cpuTimes.idle))) / total : 0;
    this.cpuTimes = now;
    const metrics: HostMetrics = {
      cpuPercent: Math.round(busy * 100) / 100,
      memoryUsedBytes: mem.active,
      memoryTotalBytes: mem.total,
      loadAverage1m: Math.round(loadavg()[0] * 100) / 100,
      uptimeSeconds: Math.floor(uptime()),
    };
    this.latest = { at: performance.now(), metrics };
    return metrics;
  }
}

/** Sums of every core's time counters (ms): all states, and idle alone. */
function totalCpuTimes(): { total: number; idle: number } {
  let total = 0;
  let idle = 0;
  for (const { times } of cpus()) {
    total += times.user + times.nice + times.sys + times.idle + times.irq;
    idle += times.idle;
  }
  return { total, idle };
}

/** The sampler shared by every agent of this process unless one is given. */
export const sharedHostMetrics = new HostMetricsSampler();
