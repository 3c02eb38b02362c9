import type Redis from 'ioredis';
import { CONSUMER_GROUP, type NexusKeys } from './keys';
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
 * Deletes this replica's own consumer on a clean shutdown, if it holds nothing. Its abandoned
 * blocking read may still receive an entry until Redis sees the connection closed: the check
 * and the delete are one script, so that entry stays pending (and is reclaimed), never dropped.
 */
export async function retireSelf(redis: Redis, keys: NexusKeys, self: string): Promise<boolean> {
  return retireConsumer(redis, keys, self);
}

/** Deletes `name` if it holds no pending entry, atomically (scripts/retireConsumer-1.lua). */
async function retireConsumer(redis: Redis, keys: NexusKeys, name: string): Promise<boolean> {
  return (await redis.retireConsumer(keys.commandsStream, CONSUMER_GROUP, name)) === 1;
}
