import BeeQueue from 'bee-queue';
import type { ThroughputRun } from '../bench-types';

/** bee-queue with a no-op processor at concurrency 50, successful jobs removed, saveAll batches. */
export async function beeQueueThroughput(port: number, jobs: number): Promise<ThroughputRun> {
  const queue = new BeeQueue(`bench-${Date.now()}`, {
    redis: { host: '127.0.0.1', port },
    removeOnSuccess: true,
    removeOnFailure: true,
    sendEvents: false,
    storeJobs: false,
  });
  await queue.ready();
  let done = 0;
  let finished!: () => void;
  const all = new Promise<void>((resolve) => (finished = resolve));
  queue.process(50, async () => {
    if (++done === jobs) setImmediate(finished);
  });
  const started = performance.now();
  for (let i = 0; i < jobs; i += 1000) {
    await queue.saveAll(Array.from({ length: Math.min(1000, jobs - i) }, (_, j) => queue.createJob({ i: i + j })));
  }
  await all;
  const seconds = (performance.now() - started) / 1000;
  await queue.close();
  return { perSecond: jobs / seconds, seconds };
}
