import type Redis from 'ioredis';
import type { NexusKeys } from './keys';
import { decodeHoldReply, int } from './script-replies';

/** The field of a hold on every agent of the cluster. */
export const CLUSTER_HOLD = '*';

/** Why a hold was set (the `reason` of its `dampening_started` event). */
export type HoldReason = 'mass_silence' | 'redis_back' | 'replica_down' | 'sweep_gap';

/** An active hold as stored in Redis. */
export interface Hold {
  /** A replica id, or `*` for every agent. */
  readonly field: string;
  /** Redis-clock ms at which the sweep ends it (`dampening_ended`, reason `bound`). */
  readonly untilMs: number;
  readonly reason: string;
}

/**
 * Holds on agents' state transitions (docs/dampening.md): the staleness sweep does not move
 * the agents of a held replica (or any agent, under a cluster hold) until the hold ends. Every
 * hold has an until on the Redis clock; the sweep removes expired ones.
 */
export class AgentHolds {
  constructor(
    private readonly redis: Redis,
    private readonly keys: NexusKeys,
    private readonly eventsMaxLen: number,
    private readonly replicaId: string,
  ) {}

  /**
   * Holds `field`'s agents for `forMs`. An active hold that lasts at least as long stays as it
   * is (reason included); otherwise the hold takes this until and reason. Returns the Redis
   * clock now, and whether `dampening_started` was emitted (not when nothing changed or the
   * same hold was only extended). `fields`: more event fields.
   */
  async hold(field: string, forMs: number, reason: HoldReason, fields: Record<string, string | number> = {}): Promise<{ nowMs: number; started: boolean }> {
    return decodeHoldReply(await this.redis.holdAgents(
      this.keys.agentHolds, this.keys.events, field, forMs, reason, this.eventsMaxLen, this.replicaId, ...Object.entries(fields).flat(),
    ));
  }

  /** Ends `field`'s hold set for `reason` (`dampening_ended`, reason `cleared`); false when there was none. */
  async release(field: string, reason: HoldReason, fields: Record<string, string | number> = {}): Promise<boolean> {
    return int('releaseHold', await this.redis.releaseHold(
      this.keys.agentHolds, this.keys.events, field, reason, this.eventsMaxLen, this.replicaId, ...Object.entries(fields).flat(),
    ), 'released') === 1;
  }

  /** Every stored hold (one small hash: a field per held replica). */
  async list(): Promise<Hold[]> {
    const raw = await this.redis.hgetall(this.keys.agentHolds);
    return Object.entries(raw).map(([field, value]) => {
      const bar = value.indexOf('|');
      return { field, untilMs: Number(value.slice(0, bar)), reason: value.slice(bar + 1) };
    });
  }
}
