import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type Redis from 'ioredis';
import { retireConsumer } from '../../src/redis-bridge/consumer-retirement';
import { CONSUMER_GROUP, NexusKeys } from '../../src/redis-bridge/keys';
import { defineScripts } from '../../src/redis-bridge/script-loader';
import { RedisServer } from '../helpers/redis-server';
import { waitFor } from '../helpers/wait-for';

const keys = new NexusKeys('nexus');
const ROUNDS = 40;

describe('retiring a consumer whose blocking read Redis still holds', () => {
  const redis = new RedisServer();
  let db: Redis;
  let producer: Redis;

  beforeAll(async () => {
    await redis.start();
    db = redis.client();
    defineScripts(db);
    producer = redis.client();
    await db.xgroup('CREATE', keys.commandsStream, CONSUMER_GROUP, '0', 'MKSTREAM');
  });

  afterAll(async () => {
    db?.disconnect();
    producer?.disconnect();
    await redis.destroy();
  });

  /**
   * A stopping replica abandons its blocked XREADGROUP; until Redis notices, an XADD can still
   * hand that read an entry. If that lands between the "holds nothing?" check and the delete,
   * DELCONSUMER drops the entry from the group: read by nobody, pending on nobody, lost.
   */
  it('never drops an entry that a still-blocked read of the consumer receives', async () => {
    const added: string[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const consumer = `zombie-${round}`;
      const reader = redis.client();
      try {
        const id = String(await reader.client('ID'));
        void reader.xreadgroup('GROUP', CONSUMER_GROUP, consumer, 'COUNT', 10, 'BLOCK', 0, 'STREAMS', keys.commandsStream, '>').catch(() => undefined);
        await waitFor('the read is blocked in Redis', async () => String(await db.client('LIST', 'ID', id)).includes('cmd=xreadgroup'));
        // The check and the entry race: whichever Redis takes first, nothing may be dropped.
        const [, entryId] = await Promise.all([
          retireConsumer(db, keys, consumer),
          producer.xadd(keys.commandsStream, '*', 'target', 'a', 'command_type', 'echo', 'command_id', `r-${round}`),
        ]);
        added.push(entryId!);
      } finally {
        reader.disconnect();
      }
    }
    const pending = (await db.xpending(keys.commandsStream, CONSUMER_GROUP, '-', '+', ROUNDS * 2)) as [string][];
    expect(pending.map(([id]) => id).sort()).toEqual([...added].sort());
  });

  it('deletes a consumer that holds nothing, and keeps one that holds entries', async () => {
    await producer.xadd(keys.commandsStream, '*', 'target', 'a', 'command_type', 'echo');
    await db.xreadgroup('GROUP', CONSUMER_GROUP, 'holder', 'COUNT', 1, 'STREAMS', keys.commandsStream, '>');
    await db.xgroup('CREATECONSUMER', keys.commandsStream, CONSUMER_GROUP, 'empty');
    expect(await retireConsumer(db, keys, 'holder')).toBe(false);
    expect(await retireConsumer(db, keys, 'empty')).toBe(true);
    const names = ((await db.xinfo('CONSUMERS', keys.commandsStream, CONSUMER_GROUP)) as unknown[][]).map((c) => String(c[1]));
    expect(names).toContain('holder');
    expect(names).not.toContain('empty');
  });
});
