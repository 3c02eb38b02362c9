#!/usr/bin/env node
/**
 * `node dist/scripts/bench/list-commands.js [N...]`: ListCommands page latency with N command
 * records retained (default 1,000 and 1,000,000). Records and their index entries are written
 * straight into a private Redis (this measures reading, not writing): 100 targets, 5 command
 * types, one command in 1,000 failed, the rest succeeded, one per millisecond of creation
 * time. A replica in this process answers; each query is asked 50 times over gRPC and the
 * p50 / p99 of its round trip are printed: the first page, the 10th page (by token), failed
 * ones, one target, one target's failed ones, and a created-time window.
 */
import { credentials } from '@grpc/grpc-js';
import Redis from 'ioredis';
import { compileOrchestratorConfig } from '../../src/orchestrator/config';
import { Orchestrator } from '../../src/orchestrator/orchestrator';
import { CommandState, NexusPulseServiceClient, type CommandFilter, type ListCommandsResponse } from '../../src/generated/nexus/prime/pulse';
import { NexusKeys } from '../../src/redis-bridge/keys';
import { createLogger } from '../../src/shared/logger';
import { RedisProcess } from '../lib/redis-process';

const SIZES = process.argv.slice(2).map(Number).filter((n) => n > 0);
const TARGETS = 100;
const TYPES = ['echo', 'scan', 'report', 'analyze', 'sysinfo'];
const ASKS = 50;
const EMPTY: CommandFilter = { states: [], target: '', commandType: '', correlationId: '', parentId: '', createdAfterUnixMs: 0, createdBeforeUnixMs: 0 };

async function populate(redis: Redis, keys: NexusKeys, n: number, base: number): Promise<void> {
  for (let c = 0; c < n; c += 5000) {
    const p = redis.pipeline();
    const sets = new Map<string, (string | number)[]>();
    const add = (key: string, at: number, id: string): void => {
      const members = sets.get(key) ?? [];
      members.push(at, id);
      sets.set(key, members);
    };
    for (let i = c; i < Math.min(n, c + 5000); i++) {
      const id = `c-${i}`;
      const state = i % 1000 === 999 ? 'failed' : 'succeeded';
      const target = `agent-${i % TARGETS}`;
      const type = TYPES[i % TYPES.length];
      const at = base + i;
      p.hset(keys.command(id), 'command_id', id, 'state', state, 'target', target, 'command_type', type, 'priority', '5', 'attempt', '1',
        'queued_at', String(at), 'finished_at', String(at + 5), 'output', 'ok', 'timeline', '{"event":"queued"}');
      add(`${keys.indexPrefix}state:${state}`, at, id);
      add(`${keys.indexPrefix}target:${target}`, at, id);
      add(`${keys.indexPrefix}type:${type}`, at, id);
    }
    for (const [key, members] of sets) p.zadd(key, ...members);
    await p.exec();
  }
}

function ask(client: NexusPulseServiceClient, filter: Partial<CommandFilter>, pageSize: number, pageToken = ''): Promise<ListCommandsResponse> {
  return new Promise((resolve, reject) => client.listCommands({ filter: { ...EMPTY, ...filter }, pageSize, pageToken }, (err, res) => (err ? reject(err) : resolve(res))));
}

async function timed(label: string, run: () => Promise<ListCommandsResponse>): Promise<string> {
  const ms: number[] = [];
  let rows = 0;
  for (let i = 0; i < ASKS; i++) {
    const t = performance.now();
    rows = (await run()).commands.length;
    ms.push(performance.now() - t);
  }
  ms.sort((a, b) => a - b);
  return `  ${label.padEnd(34)} rows ${String(rows).padStart(4)}   p50 ${ms[Math.floor(ASKS / 2)].toFixed(1).padStart(6)} ms   p99 ${ms[Math.floor(ASKS * 0.99)].toFixed(1).padStart(6)} ms`;
}

async function main(): Promise<void> {
  for (const n of SIZES.length > 0 ? SIZES : [1_000, 1_000_000]) {
    const redisProcess = await new RedisProcess().start();
    const redis = new Redis(redisProcess.port, '127.0.0.1');
    const keys = new NexusKeys('nexus');
    const base = Date.now() - n - 60_000;
    const started = performance.now();
    await populate(redis, keys, n, base);
    const config = compileOrchestratorConfig({ REDIS_URL: redisProcess.url, GRPC_HOST: '127.0.0.1', GRPC_PORT: '0', METRICS_PORT: '0', CONSOLE_PORT: '0', LOG_LEVEL: 'silent', REPLICA_ID: 'bench' });
    const orchestrator = new Orchestrator(config, createLogger('silent'));
    const { grpcPort } = await orchestrator.start();
    const client = new NexusPulseServiceClient(`127.0.0.1:${grpcPort}`, credentials.createInsecure());
    const mem = /used_memory_human:(\S+)/.exec(await redis.info('memory'))?.[1];
    console.log(`${n.toLocaleString('en-US')} records (written in ${((performance.now() - started) / 1000).toFixed(1)} s, Redis ${mem}), page size 100:`);
    let tenth = '';
    for (let i = 0, token = ''; i < 9; i++) token = tenth = (await ask(client, {}, 100, token)).nextPageToken;
    const lines = [
      await timed('first page, no filter', () => ask(client, {}, 100)),
      await timed('10th page, no filter (token)', () => ask(client, {}, 100, tenth)),
      await timed('failed', () => ask(client, { states: [CommandState.COMMAND_STATE_FAILED] }, 100)),
      await timed('one target', () => ask(client, { target: 'agent-7' }, 100)),
      await timed('one target, failed', () => ask(client, { target: 'agent-99', states: [CommandState.COMMAND_STATE_FAILED] }, 100)),
      await timed('created in a 10 s window', () => ask(client, { createdAfterUnixMs: base + n / 2, createdBeforeUnixMs: base + n / 2 + 10_000 }, 100)),
    ];
    for (const line of lines) console.log(line);
    client.close();
    await orchestrator.shutdown('bench done');
    redis.disconnect();
    await redisProcess.destroy();
  }
}

main().catch((err: Error) => {
  console.error(`list-commands bench: ${err.message}`);
  process.exit(1);
});
