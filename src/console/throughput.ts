import type { Logger } from '../shared/logger';

/** One sample of the cluster's finished-command counts. */
export interface ThroughputSample {
  readonly at: number;
  readonly succeeded: number;
  readonly failed: number;
  readonly dead: number;
}

/** How often the counts are read, and how many samples are kept (10 minutes). */
export const SAMPLE_EVERY_MS = 5000;
export const MAX_SAMPLES = 120;

/**
 * Reads the cluster's command counts every 5 s and keeps the last 120 readings, so a page
 * opened now can draw the last minutes at once. Stops on close().
 */
export class ThroughputSampler {
  private readonly kept: ThroughputSample[] = [];
  private timer: NodeJS.Timeout | undefined;
  private busy = false;

  constructor(
    private readonly read: () => Promise<{ succeeded: number; failed: number; dead: number }>,
    private readonly logger: Logger,
    private readonly everyMs = SAMPLE_EVERY_MS,
  ) {}

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.sample(), this.everyMs);
    this.timer.unref();
    void this.sample();
  }

  /** The samples, oldest first. */
  samples(): readonly ThroughputSample[] {
    return [...this.kept];
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  private async sample(): Promise<void> {
    if (this.busy) return; // a slow Redis must not pile readings up
    this.busy = true;
    try {
      const { succeeded, failed, dead } = await this.read();
      if (!this.timer) return;
      this.kept.push({ at: Date.now(), succeeded, failed, dead });
      if (this.kept.length > MAX_SAMPLES) this.kept.splice(0, this.kept.length - MAX_SAMPLES);
    } catch (err) {
      this.logger.debug({ err: (err as Error).message }, 'throughput sample failed');
    } finally {
      this.busy = false;
    }
  }
}
