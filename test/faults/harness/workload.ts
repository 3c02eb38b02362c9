import type Redis from 'ioredis';
import { delay } from '../../../src/shared/delay';

/**
 * Commands sent to the ingress, as a Jepsen client sees them: every XADD attempted, and the
 * ones acknowledged (the XADD returned an id). Only acknowledged commands must end somewhere.
 */
export class Workload {
  readonly attempted = new Set<string>();
  readonly acknowledged = new Set<string>();
  readonly targetOf = new Map<string, string>();
  private n = 0;

  constructor(
    private readonly redis: Redis,
    private readonly targets: readonly string[],
    readonly prefix: string,
    private readonly commandType = 'echo',
    /** Fixed payload; default: the command id (so results are checkable). */
    private readonly payload?: string,
  ) {}

  /**
   * XADDs `count` commands in one pipeline (failures are just not acknowledged); `atomic` uses
   * one MULTI, so a blocked reader is handed the whole batch at once.
   */
  async add(count: number, atomic = false): Promise<void> {
    const pipeline = atomic ? this.redis.multi() : this.redis.pipeline();
    const ids: string[] = [];
    for (let i = 0; i < count; i++) {
      const id = `${this.prefix}-${this.n++}`;
      const target = this.targets[Math.floor(Math.random() * this.targets.length)];
      ids.push(id);
      this.attempted.add(id);
      this.targetOf.set(id, target);
      pipeline.xadd('nexus:commands:stream', '*', 'target', target, 'command_id', id, 'command_type', this.commandType, 'payload', this.payload ?? id);
    }
    try {
      const replies = (await pipeline.exec()) ?? [];
      replies.forEach(([err], i) => {
        if (!err) this.acknowledged.add(ids[i]);
      });
    } catch {
      // Redis unreachable: none acknowledged.
    }
  }

  /** Adds `perSecond` commands per second (in 10 ticks a second) for `ms`, or until `stop` aborts. */
  async run(perSecond: number, ms: number, stop?: AbortSignal): Promise<void> {
    const until = Date.now() + ms;
    const perTick = Math.max(1, Math.round(perSecond / 10));
    while (Date.now() < until && !stop?.aborted) {
      await this.add(perTick);
      await delay(100, stop);
    }
  }
}
