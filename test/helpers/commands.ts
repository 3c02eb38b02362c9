import type Redis from 'ioredis';
import { pairsToObject } from '../../src/redis-bridge/stream-stats';
import { readEvents } from './events';

export const INGRESS = 'nexus:commands:stream';
export const DLQ = 'nexus:commands:dlq';

/** XADDs many entries in one pipeline; returns their ids. */
export async function xaddMany(redis: Redis, entries: (string | Buffer)[][]): Promise<string[]> {
  const pipeline = redis.pipeline();
  for (const fields of entries) pipeline.xadd(INGRESS, '*', ...fields);
  const replies = (await pipeline.exec()) ?? [];
  return replies.map(([err, id]) => {
    if (err) throw err;
    return String(id);
  });
}

/** DLQ entries as flat objects. */
export function readDlq(redis: Redis): Promise<Record<string, string>[]> {
  return readEvents(redis, DLQ);
}

/** The group's pending and lag on the ingress. */
export async function groupState(redis: Redis): Promise<{ pending: number; lag: number }> {
  const groups = (await redis.xinfo('GROUPS', INGRESS)) as unknown[][];
  const info = pairsToObject(groups[0]);
  return { pending: Number(info.pending), lag: Number(info.lag) };
}

/** Counts events of `type` per command id. */
export async function eventCounts(redis: Redis, type: string): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  for (const e of await readEvents(redis)) if (e.type === type) counts.set(e.command_id, (counts.get(e.command_id) ?? 0) + 1);
  return counts;
}

/** The fields of a `command_issued` ingress entry, plus any `extra` field, value pairs. */
export function issue(target: string, commandId: string, commandType: string, extra: string[] = []): string[] {
  return ['type', 'command_issued', 'target', target, 'command_id', commandId, 'command_type', commandType, ...extra];
}
