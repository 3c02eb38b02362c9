#!/usr/bin/env node
/**
 * A rolling-restart rehearsal without Kubernetes: a private Redis, 3 replicas, a swarm of
 * agents, commands flowing the whole time; each replica in turn gets SIGTERM, is started
 * again on its address, and must be ready before the next one goes. Then every command is
 * checked: each must have ended, and none may have run twice. It reports the agents each
 * replica holds before, right after the restarts and once rebalancing has evened them out.
 * Exit 0 only if nothing was lost and the fleet ends balanced.
 *   node dist/scripts/rehearse-rolling-restart.js [--agents 30] [--rate 100] [--drain-window-ms 2000] [--settle-ms 3000]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { credentials, Metadata } from '@grpc/grpc-js';
import Redis from 'ioredis';
import { HealthClient } from '../src/generated/grpc/health/v1/health';
import { freePort } from './lib/free-port';
import { RedisProcess } from './lib/redis-process';

const { values: opts } = parseArgs({
  options: {
    agents: { type: 'string', default: '30' },
    rate: { type: 'string', default: '100' },
    'drain-window-ms': { type: 'string', default: '2000' },
    'settle-ms': { type: 'string', default: '3000' },
  },
});
const AGENTS = Number(opts.agents);
const RATE = Number(opts.rate);
const DRAIN_WINDOW_MS = Number(opts['drain-window-ms']);
const SETTLE_MS = Number(opts['settle-ms']);
const TOLERANCE_PCT = 10;
const DIST = join(__dirname, '..', 'src');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function ready(port: number): Promise<boolean> {
  const client = new HealthClient(`127.0.0.1:${port}`, credentials.createInsecure());
  return new Promise<boolean>((resolve) => {
    client.check({ service: 'nexus.prime.NexusPulseService' }, new Metadata(), { deadline: Date.now() + 1000 }, (err, res) => resolve(!err && res.status === 1));
  }).finally(() => client.close());
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'nexus-rehearsal-'));
  const redisServer = await new RedisProcess('aof').start();
  const redis = new Redis(redisServer.port, '127.0.0.1');
  const ports = await Promise.all([0, 1, 2].map(() => freePort()));
  const replicas: ChildProcess[] = [];
  const children: ChildProcess[] = [];
  const startReplica = (i: number): ChildProcess => {
    const child = spawn(process.execPath, [join(DIST, 'orchestrator/main.js')], {
      env: {
        ...process.env, REDIS_URL: redisServer.url, GRPC_HOST: '127.0.0.1', GRPC_PORT: String(ports[i]), METRICS_PORT: '0', CONSOLE_PORT: '0',
        REPLICA_ID: `r${i + 1}`, ADVERTISE_ADDRESS: `127.0.0.1:${ports[i]}`, LOG_LEVEL: 'warn',
        REBALANCE_SETTLE_MS: String(SETTLE_MS), REBALANCE_TOLERANCE_PCT: String(TOLERANCE_PCT), DRAIN_WINDOW_MS: String(DRAIN_WINDOW_MS), SHUTDOWN_GRACE_MS: String(DRAIN_WINDOW_MS + 6000),
        CLAIM_MIN_IDLE_MS: '2000', CLAIM_SWEEP_MS: '500',
      },
      stdio: 'ignore',
    });
    replicas[i] = child;
    children.push(child);
    return child;
  };
  const log = join(dir, 'executions.jsonl');
  let ok = false;
  try {
    ports.forEach((_, i) => startReplica(i));
    for (const port of ports) while (!(await ready(port))) await sleep(100);
    children.push(spawn(process.execPath, [join(DIST, 'agent/main.js')], {
      env: { ...process.env, ORCHESTRATOR_HOST: `ipv4:${ports.map((p) => `127.0.0.1:${p}`).join(',')}`, AGENT_ID: 'rehearsal', AGENT_COUNT: String(AGENTS), EXECUTION_LOG: log, LOG_LEVEL: 'warn', HEARTBEAT_INTERVAL: '2', INITIAL_BACKOFF: '0.2', MAX_BACKOFF: '2' },
      stdio: 'ignore',
    }));
    while ((await redis.zcard('nexus:agents:online')) < AGENTS) await sleep(100);
    console.log(`rehearsal: 3 replicas, ${AGENTS} agents, ${RATE} commands/s`);
    // Sessions younger than the settling period are not moved: start from a settled fleet.
    const placed = await waitBalanced(redis, SETTLE_MS + 15_000);
    console.log(`  agents per replica before: ${show(placed.counts)}`);

    const acknowledged: string[] = [];
    let n = 0;
    let flowing = true;
    const load = (async () => {
      while (flowing) {
        const pipeline = redis.pipeline();
        const batch: string[] = [];
        for (let i = 0; i < Math.max(1, RATE / 10); i++, n++) {
          batch.push(`rr-${n}`);
          pipeline.xadd('nexus:commands:stream', '*', 'target', `rehearsal-${1 + (n % AGENTS)}`, 'command_id', `rr-${n}`, 'command_type', 'echo', 'payload', String(n));
        }
        const replies = (await pipeline.exec()) ?? [];
        replies.forEach(([err], i) => !err && acknowledged.push(batch[i]));
        await sleep(100);
      }
    })();

    await sleep(1000);
    for (let i = 0; i < 3; i++) {
      const started = Date.now();
      const exited = new Promise<number | null>((resolve) => replicas[i].once('exit', (code) => resolve(code)));
      replicas[i].kill('SIGTERM');
      const code = await exited;
      const drainMs = Date.now() - started;
      startReplica(i);
      while (!(await ready(ports[i]))) await sleep(50);
      console.log(`  r${i + 1}: drained and exited ${code} in ${drainMs} ms; ready again ${Date.now() - started - drainMs} ms later`);
    }
    console.log(`  agents per replica after the restarts: ${show(await agentsPerReplica(redis))}`);
    const balanced = await waitBalanced(redis, SETTLE_MS + 30_000);
    console.log(`  agents per replica once rebalanced: ${show(balanced.counts)}${balanced.ok ? '' : ' (NOT balanced)'}`);
    flowing = false;
    await load;

    const deadline = Date.now() + 60_000;
    let done = 0;
    while (Date.now() < deadline) {
      const pipeline = redis.pipeline();
      for (const id of acknowledged) pipeline.hget(`nexus:command:${id}`, 'state');
      done = ((await pipeline.exec()) ?? []).filter(([, s]) => s === 'succeeded').length;
      if (done === acknowledged.length) break;
      await sleep(250);
    }
    const runs = new Map<string, number>();
    await sleep(500);
    if (existsSync(log)) {
      for (const line of readFileSync(log, 'utf8').split('\n').filter(Boolean)) {
        const id = (JSON.parse(line) as { command_id: string }).command_id;
        runs.set(id, (runs.get(id) ?? 0) + 1);
      }
    }
    const duplicated = [...runs.values()].filter((c) => c > 1).length;
    const lost = acknowledged.length - done;
    // Say where each unfinished command stopped, so a loss can be traced.
    for (const id of acknowledged) {
      const record = await redis.hgetall(`nexus:command:${id}`);
      if (record.state === 'succeeded') continue;
      console.log(`  not finished: ${id} state=${record.state ?? '(no record)'} target=${record.target ?? ''} runs=${runs.get(id) ?? 0} mailbox=${await redis.zscore(`nexus:mailbox:${record.target}`, id)} timeline=${record.timeline ?? ''}`);
    }
    console.log(`rehearsal: ${acknowledged.length} commands flowed during 3 restarts; succeeded ${done}; lost ${lost}; run twice ${duplicated}; DLQ ${await redis.xlen('nexus:commands:dlq')}`);
    ok = lost === 0 && duplicated === 0 && balanced.ok;
  } finally {
    for (const child of children) child.kill('SIGKILL');
    redis.disconnect();
    await redisServer.destroy();
    rmSync(dir, { recursive: true, force: true });
  }
  process.exit(ok ? 0 : 1);
}

/** Online agents per replica, from the agent records. */
async function agentsPerReplica(redis: Redis): Promise<Record<string, number>> {
  const pipeline = redis.pipeline();
  for (let i = 1; i <= AGENTS; i++) pipeline.hmget(`nexus:agent:rehearsal-${i}`, 'replica', 'state');
  const counts: Record<string, number> = { r1: 0, r2: 0, r3: 0 };
  for (const [, v] of (await pipeline.exec()) ?? []) {
    const [replica, state] = v as [string | null, string | null];
    if (replica && state === 'online') counts[replica] = (counts[replica] ?? 0) + 1;
  }
  return counts;
}

/** Waits until every replica holds its share of the fleet within the rebalancer's tolerance. */
async function waitBalanced(redis: Redis, timeoutMs: number): Promise<{ ok: boolean; counts: Record<string, number> }> {
  const share = AGENTS / 3;
  const tolerance = Math.max(1, Math.ceil((share * TOLERANCE_PCT) / 100));
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const counts = await agentsPerReplica(redis);
    const values = Object.values(counts);
    const ok = values.reduce((a, b) => a + b, 0) === AGENTS && values.every((n) => Math.abs(n - share) <= tolerance);
    if (ok || Date.now() > deadline) return { ok, counts };
    await sleep(250);
  }
}

function show(counts: Record<string, number>): string {
  return Object.entries(counts).sort().map(([r, n]) => `${r} ${n}`).join(', ');
}

main().catch((err: Error) => {
  console.error(`rehearsal: ${err.message}`);
  process.exit(1);
});
