import type Redis from 'ioredis';

/** Events on the stream as flat objects (id plus fields), oldest first. */
export async function readEvents(redis: Redis, key = 'nexus:events:stream'): Promise<Record<string, string>[]> {
  const entries = await redis.xrange(key, '-', '+');
  return entries.map(([id, fields]) => {
    const event: Record<string, string> = { id };
    for (let i = 0; i + 1 < fields.length; i += 2) event[fields[i]] = fields[i + 1];
    return event;
  });
}
