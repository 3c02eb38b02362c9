import { once } from 'node:events';
import type Redis from 'ioredis';
import { afterPendingIo } from '../shared/delay';
import type { Logger } from '../shared/logger';

/**
 * Readiness = Redis answers a PING on a dedicated probe connection (short timeout, no
 * offline queue, never the blocking reader) and the replica is started and not draining.
 * Liveness does not depend on it: a replica waiting for Redis is alive, just not ready.
 */
export class Readiness {
  private redisOk = false;
  private started = false;
  private draining = false;
  /** Last published value; health starts NOT_SERVING. */
  private last = false;
  /** Monotonic time Redis was first found unreachable in the current outage, or 0. */
  private downSince = 0;

  constructor(
    private readonly probe: Redis,
    private readonly timeoutMs: number,
    private readonly onChange: (ready: boolean) => void,
    private readonly logger: Logger,
    /** Called when Redis answers again after an outage, with how long it was unreachable (ms). */
    private readonly onRecovered: (downForMs: number) => void = () => undefined,
  ) {}

  get ready(): boolean {
    return this.redisOk && this.started && !this.draining;
  }

  async check(): Promise<void> {
    try {
      // While the probe connection is still being made, give it one timeout to get there
      // rather than reporting a Redis outage that is only a slow start.
      if (this.probe.status === 'connecting' || this.probe.status === 'connect') {
        await once(this.probe, 'ready', { signal: AbortSignal.timeout(this.timeoutMs) });
      }
      await this.pingWithin(this.timeoutMs);
      const downForMs = this.redisDownForMs;
      this.redisOk = true;
      this.downSince = 0;
      if (downForMs > 0) this.onRecovered(downForMs);
    } catch (err) {
      if (this.redisOk) this.logger.warn({ err: (err as Error).message }, 'readiness probe failed: redis unreachable');
      this.redisOk = false;
      this.downSince ||= performance.now();
    }
    this.publish();
  }

  /**
   * PING with a deadline judged after pending I/O: when this replica's own event loop stalled
   * (a reconnect storm), the PONG may wait unread in its socket; a busy survivor would call
   * itself unready and refuse the very sessions it is taking over. ioredis' own timeout on the
   * probe connection (twice this one) still bounds what a hung Redis leaves pending.
   */
  private async pingWithin(timeoutMs: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(afterPendingIo(() => reject(new Error(`no PONG within ${timeoutMs} ms`))), timeoutMs);
    });
    try {
      await Promise.race([this.probe.ping(), deadline]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Whether the last probe reached Redis. */
  get redisReachable(): boolean {
    return this.redisOk;
  }

  /** How long Redis has been unreachable (0 while it answers). */
  get redisDownForMs(): number {
    return this.downSince ? performance.now() - this.downSince : 0;
  }

  markStarted(): void {
    this.started = true;
    this.publish();
  }

  markDraining(): void {
    this.draining = true;
    this.publish();
  }

  private publish(): void {
    const ready = this.ready;
    if (ready === this.last) return;
    this.last = ready;
    this.logger.info({ ready }, ready ? 'readiness SERVING' : 'readiness NOT_SERVING');
    this.onChange(ready);
  }
}
