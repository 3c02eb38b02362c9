#!/usr/bin/env node
/**
 * End-to-end command throughput: a private Redis (AOF everysec), 3 replicas and one swarm of
 * agents (child processes); N echo commands XADDed at random targets in pipelines of 1,000;
 * the clock stops when every command is recorded as succeeded.
 *   node dist/scripts/bench/commands-e2e.js [commands=20000] [agents=30] [concurrency=16]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import Redis from 'ioredis';
import { freePort } from '../lib/free-port';
import { RedisProcess } from '../lib/redis-process';

const COMMANDS = Number(process.argv[2] ?? 20_000);
const AGENTS = Number(process.argv[3] ?? 30);
const CONCURRENCY = Number(process.argv[4] ?? 16);
const REPLICAS = 3;
const DIST = join(__dirname, '..', '..', 'src');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function main(): Promise<void> {
  const redisServer = await new RedisProcess('aof').start();
  const redis = new Redis(redisServer.port, '127.0.0.1');
  const children: ChildProcess[] = [];
  try {
    const ports = await Promise.all(Array.from({ length: REPLICAS }, () => freePort()));
    ports.forEach((port, i) =>
      children.push(spawn(process.execPath, [join(DIST, 'orchestrator/main.js')], {
        env: { ...process.env, REDIS_URL: redisServer.url, GRPC_HOST: '127.0.0.1', GRPC_PORT: String(port), METRICS_PORT: '0', REPLICA_ID: `r${i + 1}`, LOG_LEVEL: 'warn' },
        stdio: 'ignore',
      })),
    );
    await sleep(1000);
    children.push(spawn(process.execPath, [join(DIST, 'agent/main.js')], {
      env: { ...process.env, ORCHESTRATOR_HOST: `ipv4:${ports.map((p) => `127.0.0.1:${p}`).join(',')}`, AGENT_ID: 'bench', AGENT_COUNT: String(AGENTS), MAX_CONCURRENCY: String(CONCURRENCY), LOG_LEVEL: 'warn' },
      stdio: 'ignore',
    }));
    while (Number(await redis.zcard('nexus:agents:online')) < AGENTS) await sleep(100);

    const started = Date.now();
    for (let chunk = 0; chunk < COMMANDS; chunk += 1000) {
      const pipeline = redis.pipeline();
      for (let i = chunk; i < Math.min(COMMANDS, chunk + 1000); i++) {
        pipeline.xadd('nexus:commands:stream', '*', 'target', `bench-${1 + (i % AGENTS)}`, 'command_id', `b-${i}`, 'command_type', 'echo', 'payload', String(i));
      }
      await pipeline.exec();
    }
    const added = Date.now();
    while (Number(await redis.hget('nexus:commands:counts', 'succeeded')) < COMMANDS) await sleep(20);
    const seconds = (Date.now() - started) / 1000;
    console.log(JSON.stringify({
      commands: COMMANDS,
      replicas: REPLICAS,
      agents: AGENTS,
      concurrency: CONCURRENCY,
      xaddSeconds: (added - started) / 1000,
      totalSeconds: seconds,
      commandsPerSecond: Math.round(COMMANDS / seconds),
      dlq: await redis.xlen('nexus:commands:dlq'),
    }));
  } finally {
    for (const c of children) c.kill('SIGKILL');
    redis.disconnect();
    await redisServer.destroy();
  }
}

main().catch((err: Error) => {
  console.error(err.message);
  process.exit(1);
});
