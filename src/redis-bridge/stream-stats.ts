import type Redis from 'ioredis';
import { CONSUMER_GROUP, type NexusKeys } from './keys';

/** The ingress as the consumer group sees it. */
export interface IngressStats {
  length: number;
  pending: number;
  lag: number;
  consumers: number;
}

/** Reads ingress length, the group's pending count and lag, and the DLQ length. */
export async function readStreamStats(redis: Redis, keys: NexusKeys): Promise<{ ingress: IngressStats; dlqLength: number }> {
  const [[lenErr, length], [groupsErr, groups], [dlqErr, dlqLength]] = ((await redis
    .pipeline()
    .xlen(keys.commandsStream)
    .xinfo('GROUPS', keys.commandsStream)
    .xlen(keys.dlq)
    .exec()) ?? []) as [Error | null, unknown][];
  if (lenErr) throw lenErr;
  if (dlqErr) throw dlqErr;
  const ingress: IngressStats = { length: Number(length), pending: 0, lag: 0, consumers: 0 };
  // XINFO GROUPS fails with "no such key" until the stream exists: that is zero, not an error.
  if (!groupsErr) {
    for (const group of groups as unknown[][]) {
      const info = pairs(group);
      if (info.name !== CONSUMER_GROUP) continue;
      ingress.pending = Number(info.pending ?? 0);
      ingress.lag = Number(info.lag ?? 0);
      ingress.consumers = Number(info.consumers ?? 0);
    }
  } else if (!/no such key/i.test(groupsErr.message)) {
    throw groupsErr;
  }
  return { ingress, dlqLength: Number(dlqLength) };
}

/** A flat [k, v, k, v] reply as an object. */
function pairs(flat: unknown[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) out[String(flat[i])] = flat[i + 1];
  return out;
}
