import type Redis from 'ioredis';
import type { NexusKeys } from './keys';

/** Lifecycle event names on `nexus:events:stream` (external contract). */
export type EventType =
  | 'command_queued' | 'command_delivered' | 'command_succeeded' | 'command_failed'
  | 'command_retrying' | 'command_dead' | 'command_cancelled'
  | 'agent_connected' | 'agent_disconnected' | 'agent_stale'
  | 'replica_up' | 'replica_down'
  | 'dead_letters_purged'
  | 'dampening_started' | 'dampening_ended';

/**
 * Appends events that are not part of a larger atomic step (those are emitted inside their
 * Lua script). The stream is capped with an approximate MAXLEN; `ts` comes from Redis.
 */
export class EventLog {
  constructor(
    private readonly redis: Redis,
    private readonly keys: NexusKeys,
    private readonly maxLen: number,
  ) {}

  async emit(type: EventType, fields: Record<string, string | number>): Promise<void> {
    const flat: (string | number)[] = ['type', type];
    for (const [k, v] of Object.entries(fields)) flat.push(k, v);
    await this.redis.emitEvent(this.keys.events, this.maxLen, ...flat);
  }
}
