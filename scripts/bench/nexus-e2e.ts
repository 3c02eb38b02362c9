import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import Redis from 'ioredis';
import { freePort } from '../lib/free-port';
import type { ThroughputRun } from './bench-types';

const DIST = join(__dirname, '..', '..', 'src');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface NexusShape {
  replicas: number;
  agents: number;
  /** The agents' MAX_CONCURRENCY (their in-flight window). */
  concurrency: number;
}

/** A running Nexus for a benchmark: replica processes and one swarm on the given Redis. */
export interface NexusUnderTest {
  redis: Redis;
  stop(): void;
}

/** Starts `replicas` replicas and a swarm of `agents` agents (ids bench-1..N); resolves when all are online. */
export async function startNexus(port: number, shape: NexusShape, agentEnv: Record<string, string> = {}): Promise<NexusUnderTest> {
  const redis = new Redis(port, '127.0.0.1');
  const children: ChildProcess[] = [];
  const stop = (): void => {
    for (const c of children) c.kill('SIGKILL');
    redis.disconnect();
  };
  try {
    const ports = await Promise.all(Array.from({ length: shape.replicas }, () => freePort()));
    ports.forEach((p, i) =>
      children.push(spawn(process.execPath, [join(DIST, 'orchestrator/main.js')], {
        env: { ...process.env, REDIS_URL: `redis://127.0.0.1:${port}`, GRPC_HOST: '127.0.0.1', GRPC_PORT: String(p), METRICS_PORT: '0', REPLICA_ID: `bench-r${i + 1}`, LOG_LEVEL: 'warn' },
        stdio: 'ignore',
      })),
    );
    await sleep(1000);
    children.push(spawn(process.execPath, [join(DIST, 'agent/main.js')], {
      env: { ...process.env, ORCHESTRATOR_HOST: `ipv4:${ports.map((p) => `127.0.0.1:${p}`).join(',')}`, AGENT_ID: 'bench', AGENT_COUNT: String(shape.agents), MAX_CONCURRENCY: String(shape.concurrency), LOG_LEVEL: 'warn', ...agentEnv },
      stdio: 'ignore',
    }));
    while (Number(await redis.zcard('nexus:agents:online')) < shape.agents) await sleep(50);
    return { redis, stop };
  } catch (err) {
    stop();
    throw err;
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
    for (let chunk = 0; chunk < commands; chunk += 1000) {
      const pipeline = redis.pipeline();
      for (let i = chunk; i < Math.min(commands, chunk + 1000); i++) {
        pipeline.xadd('nexus:commands:stream', '*', 'target', `bench-${1 + (i % shape.agents)}`, 'command_id', `b-${i}`, 'command_type', 'echo', 'payload', String(i));
      }
      await pipeline.exec();
    }
    while (Number(await redis.hget('nexus:commands:counts', 'succeeded')) < commands) await sleep(10);
    const seconds = (performance.now() - started) / 1000;
    if ((await redis.xlen('nexus:commands:dlq')) > 0) throw new Error('commands were dead-lettered during the benchmark');
    return { perSecond: commands / seconds, seconds };
  } finally {
    nexus.stop();
  }
}
