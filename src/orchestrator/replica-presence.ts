import type { Logger } from '../shared/logger';
import type { EventLog } from '../redis-bridge/event-log';
import type { ReplicaFacts, ReplicaRegistry } from '../redis-bridge/replica-registry';

/** A replica is declared dead after this many missed beats. */
export const MISSED_BEATS_TO_DEAD = 3;

/**
 * Keeps this replica's record alive in Redis and reaps replicas that stopped beating
 * (`replica_down`, emitted once by whichever replica removes it first).
 */
export class ReplicaPresence {
  private announced = false;

  constructor(
    private readonly replicas: ReplicaRegistry,
    private readonly events: EventLog,
    private readonly replicaId: string,
    private readonly beatIntervalMs: number,
    private readonly facts: () => ReplicaFacts,
    private readonly logger: Logger,
    /** A reaped replica's agents are held this long (docs/dampening.md); 0: not held. */
    private readonly failoverGraceMs = 0,
  ) {}

  private get deadAfterMs(): number {
    return this.beatIntervalMs * MISSED_BEATS_TO_DEAD;
  }

  async beat(): Promise<void> {
    await this.replicas.beat(this.replicaId, this.deadAfterMs, this.facts());
    if (!this.announced) {
      await this.events.emit('replica_up', { replica: this.replicaId });
      this.announced = true;
    }
    const reaped = await this.replicas.reap(this.deadAfterMs, this.replicaId, this.failoverGraceMs);
    if (reaped.length > 0) this.logger.warn({ replicas: reaped, holdMs: this.failoverGraceMs }, 'reaped replicas that stopped beating; their agents are held for the failover grace');
  }

  /** Removes this replica and emits `replica_down` (clean shutdown). */
  async retire(reason: string): Promise<void> {
    await this.replicas.retire(this.replicaId);
    await this.events.emit('replica_down', { replica: this.replicaId, reason });
  }
}
