import type Redis from 'ioredis';
import { CONSUMER_GROUP, type NexusKeys } from './keys';
import { decodeFlag } from './script-replies';
import { pairsToObject } from './stream-stats';

/**
 * Deletes consumers of the group that hold nothing (pending 0) and have been idle longer than
 * `idleMs`: names of replicas that are gone. A consumer with pending entries is never deleted
 * (XGROUP DELCONSUMER would drop them); its entries are reclaimed first. Returns the names.
 */
export async function retireIdleConsumers(redis: Redis, keys: NexusKeys, self: string, idleMs: number): Promise<string[]> {
  const consumers = (await redis.xinfo('CONSUMERS', keys.commandsStream, CONSUMER_GROUP)) as unknown[][];
  const retired: string[] = [];
  for (const c of consumers) {
    const info = pairsToObject(c);
    const name = String(info.name);
    if (name === self || Number(info.pending) !== 0 || Number(info.idle) < idleMs) continue;
    if (await retireConsumer(redis, keys, name)) retired.push(name);
  }
  return retired;
}

/**
 * Deletes consumer `name` if it holds no pending entry (a replica's own on a clean shutdown,
 * or an idle one above). The check and the delete are one script (scripts/retireConsumer-1.lua):
 * a stopping replica's abandoned blocking read may still receive an entry until Redis sees the
 * connection closed, and that entry must stay pending (and be reclaimed), never be dropped.
 */
export async function retireConsumer(redis: Redis, keys: NexusKeys, name: string): Promise<boolean> {
  return decodeFlag('retireConsumer', await redis.retireConsumer(keys.commandsStream, CONSUMER_GROUP, name));
}
