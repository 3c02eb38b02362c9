import type Redis from 'ioredis';
import type { NexusKeys } from './keys';
import { decodeReapReply } from './script-replies';

/** A replica as recorded in Redis. */
export interface ReplicaRecord {
  replicaId: string;
  address: string;
  version: string;
  startedAtMs: number;
  lastSeenMs: number;
  connectedAgents: number;
  ready: boolean;
}

/** What a replica publishes about itself on every beat. */
export interface ReplicaFacts {
  readonly address: string;
  readonly version: string;
  readonly startedAtMs: number;
  readonly connectedAgents: number;
  readonly ready: boolean;
}

/** Live replicas in Redis: a TTL'd record per replica plus a set scored by last beat. */
export class ReplicaRegistry {
  constructor(
    private readonly redis: Redis,
    private readonly keys: NexusKeys,
    private readonly eventsMaxLen: number,
  ) {}

  /** Records that `replicaId` is alive; the record expires after `ttlMs` without a beat. */
  async beat(replicaId: string, ttlMs: number, facts: ReplicaFacts): Promise<void> {
    await this.redis.beatReplica(
      this.keys.replica(replicaId), this.keys.replicas, replicaId, ttlMs,
      'address', facts.address, 'version', facts.version, 'started_at', facts.startedAtMs,
      'connected_agents', facts.connectedAgents, 'ready', facts.ready ? '1' : '0',
    );
  }

  /**
   * Removes replicas silent for `deadAfterMs` (one `replica_down` each) and holds each one's
   * agents for `graceMs` (0: no hold) so they can reconnect elsewhere before the sweep marks
   * them stale; returns their ids.
   */
  async reap(deadAfterMs: number, reaperId: string, graceMs = 0): Promise<string[]> {
    return decodeReapReply(await this.redis.reapReplicas(this.keys.replicas, this.keys.events, this.keys.agentHolds, deadAfterMs, this.eventsMaxLen, reaperId, graceMs));
  }

  /**
   * Updates the agents this replica holds between beats (the rebalancer does, every second, so
   * every replica plans on counts at most a second old); the record keeps its TTL.
   */
  async publishAgents(replicaId: string, connectedAgents: number, ttlMs: number): Promise<void> {
    const key = this.keys.replica(replicaId);
    await this.redis.pipeline().hset(key, 'connected_agents', connectedAgents).pexpire(key, ttlMs).exec();
  }

  /** Removes this replica on a clean shutdown. */
  async retire(replicaId: string): Promise<void> {
    await this.redis.pipeline().zrem(this.keys.replicas, replicaId).del(this.keys.replica(replicaId)).exec();
  }

  /** Every live replica (the set is small: one member per replica). */
  async list(): Promise<ReplicaRecord[]> {
    const ids = await this.redis.zrange(this.keys.replicas, '0', '-1');
    if (ids.length === 0) return [];
    const pipeline = this.redis.pipeline();
    for (const id of ids) pipeline.hgetall(this.keys.replica(id));
    const replies = (await pipeline.exec()) ?? [];
    const out: ReplicaRecord[] = [];
    for (const [err, raw] of replies) {
      if (err) throw err;
      const h = raw as Record<string, string>;
      if (!h.replica_id) continue;
      out.push({
        replicaId: h.replica_id,
        address: h.address ?? '',
        version: h.version ?? '',
        startedAtMs: Number(h.started_at ?? 0),
        lastSeenMs: Number(h.last_seen ?? 0),
        connectedAgents: Number(h.connected_agents ?? 0),
        ready: h.ready === '1',
      });
    }
    return out;
  }
}
