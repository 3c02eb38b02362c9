import { Queue, Worker } from 'bullmq';
import type { ThroughputRun } from '../bench-types';

/**
 * BullMQ as its docs advise for throughput: a no-op processor at concurrency 50, completed and
 * failed jobs removed at once, jobs added with addBulk.
 */
export async function bullmqThroughput(port: number, jobs: number): Promise<ThroughputRun> {
  const connection = { host: '127.0.0.1', port };
  const name = `bench-${Date.now()}`;
  const queue = new Queue(name, { connection, defaultJobOptions: { removeOnComplete: true, removeOnFail: true } });
  let done = 0;
  let finished!: () => void;
  const all = new Promise<void>((resolve) => (finished = resolve));
  const worker = new Worker(name, async () => undefined, { connection, concurrency: 50 });
  worker.on('completed', () => {
    if (++done === jobs) finished();
  });
  await worker.waitUntilReady();
  const started = performance.now();
  for (let i = 0; i < jobs; i += 1000) {
    await queue.addBulk(Array.from({ length: Math.min(1000, jobs - i) }, (_, j) => ({ name: 'noop', data: { i: i + j } })));
  }
  await all;
  const seconds = (performance.now() - started) / 1000;
  await worker.close();
  await queue.close();
  return { perSecond: jobs / seconds, seconds };
}
