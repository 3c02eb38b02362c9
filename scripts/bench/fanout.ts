import type Redis from 'ioredis';
import { NexusCluster } from './nexus-cluster';
import { scriptUsec, slowlogCalls, startSlowlog } from './script-slowlog';
import { sleep, waitUntil } from './wait-until';

/** ms from the first XADD to the first, the median and the last result. */
export interface FanoutTimes {
  firstResultMs: number;
  medianResultMs: number;
  lastResultMs: number;
}

/**
 * Fan-out to N agents on 3 replicas, two ways, on the same fleet (one bring-up):
 * - N commands: one `echo` XADD per agent (`target`), N XADDs in one pipeline;
 * - broadcast: one XADD with `selector '*'` (issue 16), which the planner turns into one
 *   parent and N children `<parent>/<agent id>`, launched FANOUT_CHUNK (200) per script call.
 * Times run from the first XADD (its entry id, Redis' clock) to each command's finished_at
 * (also Redis' clock); for the broadcast also to the parent's finished_at.
 */
export interface FanoutRun extends FanoutTimes {
  agents: number;
  broadcast: FanoutTimes & { parentFinishedMs: number; scripts?: BroadcastScripts };
}

/**
 * With `slowlogUs`: every script call over that many µs in Redis from the broadcast's XADD to
 * its parent's finished_at (the fleet's own calls, heartbeats and the rest, included), by
 * script, and the µs of all script calls in that window (INFO commandstats).
 */
export interface BroadcastScripts {
  slowlogUs: number;
  byName: Record<string, { calls: number; maxUs: number; totalUs: number }>;
  scriptUs: number;
}

/** Sorted offsets of `finished_at` of `ids` from `since`; throws if any has none. */
async function finishedTimes(redis: Redis, ids: string[], since: number): Promise<FanoutTimes> {
  const times: number[] = [];
  for (let c = 0; c < ids.length; c += 1000) {
    const pipeline = redis.pipeline();
    for (const id of ids.slice(c, c + 1000)) pipeline.hget(`nexus:command:${id}`, 'finished_at');
    for (const [, at] of (await pipeline.exec()) ?? []) {
      if (at === null || at === undefined || at === '') throw new Error('a fan-out command has no finished_at');
      times.push(Number(at) - since);
    }
  }
  times.sort((a, b) => a - b);
  return { firstResultMs: times[0], medianResultMs: times[Math.floor(times.length / 2)], lastResultMs: times[times.length - 1] };
}

const entryMs = (id: unknown) => Number(String(id).split('-')[0]);

export async function nexusFanout(redisPort: number, agents: number, perSwarm: number, round = 1, slowlogUs?: number): Promise<FanoutRun> {
  const cluster = await NexusCluster.start(redisPort, 3);
  const { redis } = cluster;
  try {
    await cluster.startAgents('fan', agents, perSwarm, {}, 120_000);
    await cluster.waitOnline(agents, 180_000);
    await sleep(1000); // let the connect burst finish: measure the fan-out, not the bring-up

    // N commands to N agents.
    const pipeline = redis.pipeline();
    cluster.agentIds.forEach((id, i) => pipeline.xadd('nexus:commands:stream', '*', 'target', id, 'command_id', `fan-${i}`, 'command_type', 'echo', 'payload', String(i)));
    const replies = (await pipeline.exec()) ?? [];
    const firstAdd = entryMs(replies[0]?.[1]);
    await waitUntil(`${agents} fan-out results`, async () => Number(await redis.hget('nexus:commands:counts', 'succeeded')) >= agents, 120_000, 10);
    if ((await redis.xlen('nexus:commands:dlq')) > 0) throw new Error('fan-out commands were dead-lettered');
    const commands = await finishedTimes(redis, cluster.agentIds.map((_, i) => `fan-${i}`), firstAdd);
    await sleep(1000); // let the replicas settle (acks, refills) before the broadcast

    // One broadcast to the same N agents.
    const parentId = `bcast-${round}`;
    if (slowlogUs !== undefined) await startSlowlog(redis, slowlogUs);
    const added = entryMs(await redis.xadd('nexus:commands:stream', '*', 'selector', '*', 'command_id', parentId, 'command_type', 'echo', 'payload', 'x'));
    let parent: Record<string, string> = {};
    await waitUntil(() => `broadcast ${parentId} to ${agents} agents to finish (parent: state ${parent.state}, launched ${parent.launched}, finished ${parent.finished})`, async () => {
      parent = await redis.hgetall(`nexus:command:${parentId}`);
      return parent.finished_at !== undefined && parent.finished_at !== '';
    }, 120_000, 10);
    if (parent.state !== 'succeeded' || Number(parent.matched) !== agents || Number(parent.n_succeeded) !== agents) {
      throw new Error(`broadcast ended ${parent.state}: matched ${parent.matched}, launched ${parent.launched}, succeeded ${parent.n_succeeded} of ${agents}`);
    }
    let scripts: BroadcastScripts | undefined;
    if (slowlogUs !== undefined) {
      const scriptUs = await scriptUsec(redis);
      const { byName } = await slowlogCalls(redis);
      await redis.config('SET', 'slowlog-log-slower-than', '10000');
      scripts = { slowlogUs, scriptUs, byName: Object.fromEntries([...byName].map(([name, c]) => [name, { calls: c.calls, maxUs: c.maxUs, totalUs: c.totalUs }])) };
    }
    const children = await finishedTimes(redis, cluster.agentIds.map((id) => `${parentId}/${id}`), added);
    return { agents, ...commands, broadcast: { ...children, parentFinishedMs: Number(parent.finished_at) - added, scripts } };
  } finally {
    await cluster.stop();
  }
}
