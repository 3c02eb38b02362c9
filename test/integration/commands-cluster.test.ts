import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type Redis from 'ioredis';
import { allAgents, statusClient } from '../helpers/grpc-clients';
import { eventCounts, groupState, readDlq, xaddMany } from '../helpers/commands';
import { readEvents } from '../helpers/events';
import { ipv4Target, spawnAgent, spawnReplica, type Child } from '../helpers/processes';
import { RedisServer } from '../helpers/redis-server';
import { waitFor } from '../helpers/wait-for';

const AGENTS = 30;
const COMMANDS = 3000;

describe('commands through 3 replicas to 30 agents', () => {
  const redis = new RedisServer();
  const dir = mkdtempSync(join(tmpdir(), 'nexus-exec-'));
  const executions = join(dir, 'executions.jsonl');
  let replicas: Awaited<ReturnType<typeof spawnReplica>>[] = [];
  let swarm: Child;
  let db: Redis;

  beforeAll(async () => {
    await redis.start();
    db = redis.client();
    replicas = await Promise.all([1, 2, 3].map((i) => spawnReplica(redis.url, { REPLICA_ID: `r${i}`, LOG_LEVEL: 'warn' })));
    swarm = spawnAgent(ipv4Target(replicas.map((r) => r.port)), {
      AGENT_ID: 'swarm', AGENT_COUNT: String(AGENTS), MAX_CONCURRENCY: '16', EXECUTION_LOG: executions, LOG_LEVEL: 'warn',
    });
    const client = statusClient(replicas[0].port);
    await waitFor('all agents online', async () => (await allAgents(client)).filter((a) => a.state === 1).length === AGENTS, { timeoutMs: 20_000 });
    client.close();
  });

  afterAll(async () => {
    await swarm?.stop();
    await Promise.all(replicas.map((r) => r.stop()));
    db?.disconnect();
    await redis.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  it('runs every command exactly once, on its target, each entry handled by exactly one replica', async () => {
    const targets = new Map<string, string>();
    const entries = Array.from({ length: COMMANDS }, (_, i) => {
      const target = `swarm-${1 + Math.floor(Math.random() * AGENTS)}`;
      targets.set(`c-${i}`, target);
      return ['type', 'command_issued', 'target', target, 'command_id', `c-${i}`, 'command_type', 'echo', 'payload', `p-${i}`];
    });
    const started = Date.now();
    await xaddMany(db, entries);
    await waitFor('every command succeeded', async () => (await db.hget('nexus:commands:counts', 'succeeded')) === String(COMMANDS), { timeoutMs: 60_000, intervalMs: 100 });
    const seconds = (Date.now() - started) / 1000;
    console.log(`${COMMANDS} echo commands, 3 replicas x ${AGENTS} agents: ${seconds.toFixed(2)} s = ${Math.round(COMMANDS / seconds)} commands/s end to end`);

    // Routed once: one command_queued per id, nothing pending or unread, nothing dead.
    const queued = await eventCounts(db, 'command_queued');
    expect(queued.size).toBe(COMMANDS);
    expect([...queued.values()].every((n) => n === 1)).toBe(true);
    expect(await groupState(db)).toEqual({ pending: 0, lag: 0 });
    expect(await readDlq(db)).toEqual([]);
    // Every replica took part in the consumer group.
    const handledBy = new Set((await readEvents(db)).filter((e) => e.type === 'command_queued').map((e) => e.replica));
    expect(handledBy.size).toBeGreaterThan(1);

    // Succeeded once each, by the target, and executed once each, by the target.
    const succeeded = await eventCounts(db, 'command_succeeded');
    expect(succeeded.size).toBe(COMMANDS);
    expect([...succeeded.values()].every((n) => n === 1)).toBe(true);
    await waitFor('execution log flushed', () => readFileSync(executions, 'utf8').trim().split('\n').length >= COMMANDS);
    const runs = readFileSync(executions, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { agent: string; command_id: string });
    const perId = new Map<string, number>();
    for (const r of runs) {
      perId.set(r.command_id, (perId.get(r.command_id) ?? 0) + 1);
      expect(r.agent).toBe(targets.get(r.command_id));
    }
    expect(perId.size).toBe(COMMANDS);
    expect([...perId.values()].every((n) => n === 1)).toBe(true);

    const sample = await db.hgetall('nexus:command:c-42');
    expect(sample).toMatchObject({ state: 'succeeded', output: 'p-42', target: targets.get('c-42') });

    // The command metrics on every replica; together they applied every result once.
    let applied = 0;
    for (const r of replicas) {
      const text = await (await fetch(`http://127.0.0.1:${r.metricsPort}/metrics`)).text();
      for (const name of ['nexus_active_tasks', 'nexus_redis_streams_pending', 'nexus_redis_streams_lag', 'nexus_dlq_length', 'nexus_pulse_total', 'nexus_directives_sent', 'nexus_connected_agents']) {
        expect(text, `${r.replicaId} ${name}`).toContain(`${name}{`);
      }
      applied += Number(/nexus_commands_total\{outcome="succeeded",replica="[^"]+"\} (\d+)/.exec(text)?.[1] ?? 0);
    }
    expect(applied).toBe(COMMANDS);
  });
});
