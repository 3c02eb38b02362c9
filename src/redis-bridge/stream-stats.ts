import type Redis from 'ioredis';
import { CONSUMER_GROUP, type NexusKeys } from './keys';

/** The ingress as the consumer group sees it. */
export interface IngressStats {
  length: number;
  pending: number;
  lag: number;
  consumers: number;
}

/** Ingress and DLQ figures, plus the group's progress (for safe trimming). */
export interface StreamStats {
  ingress: IngressStats;
  dlqLength: number;
  /** The group's last-delivered id, or undefined while the group does not exist. */
  lastDeliveredId: string | undefined;
}

/** A flat `[k, v, k, v ...]` reply (XINFO, HELLO, ...) as an object. */
export function pairsToObject(flat: readonly unknown[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) out[String(flat[i])] = flat[i + 1];
  return out;
}

/** Reads ingress length, the group's pending count, lag and progress, and the DLQ length (one round trip). */
export async function readStreamStats(redis: Redis, keys: NexusKeys): Promise<StreamStats> {
  const [[lenErr, length], [groupsErr, groups], [dlqErr, dlqLength]] = ((await redis
    .pipeline()
    .xlen(keys.commandsStream)
    .xinfo('GROUPS', keys.commandsStream)
    .xlen(keys.dlq)
    .exec()) ?? []) as [Error | null, unknown][];
  if (lenErr) throw lenErr;
  if (dlqErr) throw dlqErr;
  const stats: StreamStats = { ingress: { length: Number(length), pending: 0, lag: 0, consumers: 0 }, dlqLength: Number(dlqLength), lastDeliveredId: undefined };
  // XINFO GROUPS fails with "no such key" until the stream exists: that is zero, not an error.
  if (!groupsErr) {
    for (const group of groups as unknown[][]) {
      const info = pairsToObject(group);
      if (info.name !== CONSUMER_GROUP) continue;
      stats.ingress.pending = Number(info.pending ?? 0);
      stats.ingress.lag = Number(info.lag ?? 0);
      stats.ingress.consumers = Number(info.consumers ?? 0);
      stats.lastDeliveredId = String(info['last-delivered-id']);
    }
  } else if (!/no such key/i.test(groupsErr.message)) {
    throw groupsErr;
  }
  return stats;
}
