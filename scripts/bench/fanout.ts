import { NexusCluster } from './nexus-cluster';
import { sleep, waitUntil } from './wait-until';

/**
 * Fan-out: one `echo` command to each of N agents at once. Nexus has no broadcast or
 * capability targeting, so this is N commands to N agents; times run from the first XADD (its
 * entry id, Redis' clock) to each command's finished_at (also Redis' clock).
 */
export interface FanoutRun {
  agents: number;
  firstResultMs: number;
  medianResultMs: number;
  lastResultMs: number;
}

export async function nexusFanout(redisPort: number, agents: number, perSwarm: number): Promise<FanoutRun> {
  const cluster = await NexusCluster.start(redisPort, 3);
  const { redis } = cluster;
  try {
    await cluster.startAgents('fan', agents, perSwarm, {}, 60_000);
    await cluster.waitOnline(agents, 120_000);
    await sleep(1000); // let the connect burst finish: measure the fan-out, not the bring-up
    const pipeline = redis.pipeline();
    cluster.agentIds.forEach((id, i) => pipeline.xadd('nexus:commands:stream', '*', 'target', id, 'command_id', `fan-${i}`, 'command_type', 'echo', 'payload', String(i)));
    const replies = (await pipeline.exec()) ?? [];
    const firstAdd = Number(String(replies[0]?.[1]).split('-')[0]);
    await waitUntil(`${agents} fan-out results`, async () => Number(await redis.hget('nexus:commands:counts', 'succeeded')) >= agents, 60_000, 10);
    if ((await redis.xlen('nexus:commands:dlq')) > 0) throw new Error('fan-out commands were dead-lettered');
    const finished = redis.pipeline();
    cluster.agentIds.forEach((_, i) => finished.hget(`nexus:command:fan-${i}`, 'finished_at'));
    const times = ((await finished.exec()) ?? []).map(([, at]) => Number(at) - firstAdd).sort((a, b) => a - b);
    return { agents, firstResultMs: times[0], medianResultMs: times[Math.floor(times.length / 2)], lastResultMs: times[times.length - 1] };
  } finally {
    await cluster.stop();
  }
}
