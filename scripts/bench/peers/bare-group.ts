import Redis from 'ioredis';
import type { ThroughputRun } from '../bench-types';

/**
 * The ceiling for Nexus' ingress: a bare ioredis consumer group, XADD (pipelined) ->
 * XREADGROUP COUNT 100 -> XACK, nothing else.
 */
export async function bareGroupThroughput(port: number, entries: number): Promise<ThroughputRun> {
  const producer = new Redis(port, '127.0.0.1');
  const consumer = new Redis(port, '127.0.0.1');
  const stream = `bench:bare:${Date.now()}`;
  await producer.xgroup('CREATE', stream, 'g', '0', 'MKSTREAM');
  const started = performance.now();
  const produce = (async () => {
    for (let i = 0; i < entries; i += 1000) {
      const pipeline = producer.pipeline();
      for (let j = i; j < Math.min(entries, i + 1000); j++) pipeline.xadd(stream, '*', 'target', 'a', 'command_type', 'echo', 'payload', String(j));
      await pipeline.exec();
    }
  })();
  let handled = 0;
  while (handled < entries) {
    const reply = (await consumer.xreadgroup('GROUP', 'g', 'c', 'COUNT', 100, 'BLOCK', 1000, 'STREAMS', stream, '>')) as [string, [string, string[]][]][] | null;
    if (!reply) continue;
    const ids = reply[0][1].map(([id]) => id);
    await consumer.xack(stream, 'g', ...ids);
    handled += ids.length;
  }
  await produce;
  const seconds = (performance.now() - started) / 1000;
  producer.disconnect();
  consumer.disconnect();
  return { perSecond: entries / seconds, seconds };
}
