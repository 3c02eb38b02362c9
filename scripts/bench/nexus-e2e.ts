import type Redis from 'ioredis';
import type { ThroughputRun } from './bench-types';
import { NexusCluster } from './nexus-cluster';
import { sleep } from './wait-until';

export interface NexusShape {
  replicas: number;
  agents: number;
  /** The agents' MAX_CONCURRENCY (their in-flight window). */
  concurrency: number;
}

/** Starts `replicas` replicas and a swarm of `agents` agents (ids bench-1..N); resolves when all are online. */
export async function startNexus(port: number, shape: NexusShape, agentEnv: Record<string, string> = {}): Promise<NexusCluster> {
  const cluster = await NexusCluster.start(port, shape.replicas);
  try {
    await cluster.startAgents('bench', shape.agents, shape.agents, { MAX_CONCURRENCY: String(shape.concurrency), ...agentEnv });
    await cluster.waitOnline(shape.agents, 60_000);
    return cluster;
  } catch (err) {
    await cluster.stop();
    throw err;
  }
}

/** XADDs `commands` echo commands (ids b-0..) spread over agents bench-1..`agents`, in pipelines of 1,000. */
export async function addEchoCommands(redis: Redis, commands: number, agents: number): Promise<void> {
  for (let chunk = 0; chunk < commands; chunk += 1000) {
    const pipeline = redis.pipeline();
    for (let i = chunk; i < Math.min(commands, chunk + 1000); i++) {
      pipeline.xadd('nexus:commands:stream', '*', 'target', `bench-${1 + (i % agents)}`, 'command_id', `b-${i}`, 'command_type', 'echo', 'payload', String(i));
    }
    await pipeline.exec();
  }
}

/**
 * End to end through Nexus: `commands` echo commands XADDed at random targets in pipelines of
 * 1,000; the clock stops when every command is recorded `succeeded`.
 */
export async function nexusThroughput(port: number, commands: number, shape: NexusShape): Promise<ThroughputRun> {
  const nexus = await startNexus(port, shape);
  const { redis } = nexus;
  try {
    const started = performance.now();
    await addEchoCommands(redis, commands, shape.agents);
    while (Number(await redis.hget('nexus:commands:counts', 'succeeded')) < commands) await sleep(10);
    const seconds = (performance.now() - started) / 1000;
    if ((await redis.xlen('nexus:commands:dlq')) > 0) throw new Error('commands were dead-lettered during the benchmark');
    return { perSecond: commands / seconds, seconds };
  } finally {
    await nexus.stop();
  }
}
