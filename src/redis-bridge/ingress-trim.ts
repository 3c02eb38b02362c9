import type Redis from 'ioredis';
import { CONSUMER_GROUP, type NexusKeys } from './keys';
import type { StreamStats } from './stream-stats';

/** `1700000000000-3` -> [ms, seq] as bigints, for ordering stream ids. */
function parseId(id: string): [bigint, bigint] {
  const [ms, seq] = id.split('-');
  return [BigInt(ms), BigInt(seq ?? 0)];
}

/** The smaller of two stream ids. */
export function minStreamId(a: string, b: string): string {
  const [am, as] = parseId(a);
  const [bm, bs] = parseId(b);
  return am < bm || (am === bm && as < bs) ? a : b;
}

/**
 * Trims the ingress only below what the consumer group has handled: entries older than both
 * the group's last-delivered id and the oldest pending entry. Never a blind MAXLEN, which would
 * delete entries nobody has read (Redis 7 trimming ignores consumer groups). `stats` are the
 * figures just read (readStreamStats). Returns how many entries were removed (0 when the
 * stream is within `targetLen` or the group is missing).
 */
export async function trimIngress(redis: Redis, keys: NexusKeys, stats: StreamStats, targetLen: number): Promise<number> {
  const lastDelivered = stats.lastDeliveredId;
  if (stats.ingress.length <= targetLen || !lastDelivered || lastDelivered === '0-0') return 0;
  const [count, oldestPending] = (await redis.xpending(keys.commandsStream, CONSUMER_GROUP)) as [number, string | null];
  const floor = count > 0 && oldestPending ? minStreamId(oldestPending, lastDelivered) : lastDelivered;
  // MINID keeps every entry >= floor; `~` lets Redis drop only whole nodes (cheap, never more).
  return redis.xtrim(keys.commandsStream, 'MINID', '~', floor);
}
