import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type Redis from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { INGRESS, eventCounts, readDlq } from '../helpers/commands';
import { childRecords, parentTerminal, TERMINAL } from '../helpers/fanout';
import { allAgents, statusClient } from '../helpers/grpc-clients';
import { ipv4Target, spawnAgent, spawnReplica, type Child } from '../helpers/processes';
import { RedisServer } from '../helpers/redis-server';
import { waitFor } from '../helpers/wait-for';

/*
 * Broadcast through 3 replica processes to a 300-agent swarm process (issue 16): each child
 * runs once; a replica SIGKILLed mid-fan-out loses no child and creates none twice
 * (docs/guarantees.md 2: executed once across replica kills; only an agent process dying
 * mid-command allows a second run, and no agent process dies here).
 */

const AGENTS = 300;

interface Run { agent: string; command_id: string; attempt: number }

describe('broadcast to 300 agents over 3 replicas', () => {
  const redis = new RedisServer();
  const dir = mkdtempSync(join(tmpdir(), 'nexus-fanout-'));
  const executions = join(dir, 'executions.jsonl');
  let replicas: Awaited<ReturnType<typeof spawnReplica>>[] = [];
  let swarm: Child;
  let db: Redis;

  const runs = (): Run[] => readFileSync(executions, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Run);

  beforeAll(async () => {
    await redis.start();
    db = redis.client();
    replicas = await Promise.all([1, 2, 3].map((i) => spawnReplica(redis.url, { REPLICA_ID: `r${i}`, LOG_LEVEL: 'warn' })));
    swarm = spawnAgent(ipv4Target(replicas.map((r) => r.port)), {
      AGENT_ID: 'sw', AGENT_COUNT: String(AGENTS), MAX_CONCURRENCY: '8', AGENT_LABELS: 'fleet=swarm', EXECUTION_LOG: executions, LOG_LEVEL: 'warn',
    });
    const client = statusClient(replicas[0].port);
    await waitFor('all agents online', async () => (await allAgents(client)).filter((a) => a.state === 1).length === AGENTS, { timeoutMs: 30_000, intervalMs: 200 });
    client.close();
  }, 60_000);

  afterAll(async () => {
    await swarm?.stop();
    await Promise.all(replicas.map((r) => r.stop()));
    db?.disconnect();
    await redis.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a broadcast by label runs one child on every agent, once; the parent succeeds with 300', async () => {
    // The fleet is spread over the 3 replicas.
    const p = db.pipeline();
    for (let i = 1; i <= AGENTS; i++) p.hget(`nexus:agent:sw-${i}`, 'replica');
    const owners = ((await p.exec()) ?? []).map(([, r]) => String(r));
    for (const r of ['r1', 'r2', 'r3']) expect(owners.filter((o) => o === r).length).toBeGreaterThan(0);

    await db.xadd(INGRESS, '*', 'selector', 'fleet=swarm', 'command_id', 'bc-1', 'command_type', 'echo', 'payload', 'hello');
    const parent = await parentTerminal(db, 'bc-1', 30_000);
    expect(parent).toMatchObject({ state: 'succeeded', fanout: '1', matched: String(AGENTS), skipped: '0', launched: String(AGENTS), finished: String(AGENTS), n_succeeded: String(AGENTS), n_failed: '0', n_dead: '0' });

    const children = await childRecords(db, 'bc-1');
    expect(children).toHaveLength(AGENTS);
    expect(new Set(children.map((c) => c.target)).size).toBe(AGENTS);
    for (const c of children) expect(c).toMatchObject({ state: 'succeeded', parent_id: 'bc-1', command_id: `bc-1/${c.target}` });

    await waitFor('execution log has every child', () => runs().filter((r) => r.command_id.startsWith('bc-1/')).length >= AGENTS);
    const mine = runs().filter((r) => r.command_id.startsWith('bc-1/'));
    expect(mine).toHaveLength(AGENTS);
    for (const r of mine) expect(r.command_id).toBe(`bc-1/${r.agent}`);
    expect(new Set(mine.map((r) => r.agent)).size).toBe(AGENTS);
  }, 45_000);

  it('SIGKILL of the replica that planned a rollout mid-fan-out: survivors finish it, each child created once and run once', async () => {
    // batch 50 of 300-ms sleeps: 6 rounds, so launching is still in progress when the kill lands.
    await db.xadd(INGRESS, '*', 'selector', '*', 'command_id', 'bc-2', 'command_type', 'sleep', 'payload', '300', 'batch', '50');
    const handledBy = await waitFor('bc-2 planned', async () => (await db.hget('nexus:command:bc-2', 'handled_by')) ?? undefined, { intervalMs: 5, timeoutMs: 10_000 });
    const victim = replicas.find((r) => r.replicaId === handledBy);
    expect(victim, `handled_by ${handledBy}`).toBeDefined();
    // Kill once the first batch runs, some of it on the victim's agents.
    await waitFor('first batch running', async () => Number(await db.hget('nexus:command:bc-2', 'launched')) > 0, { intervalMs: 5, timeoutMs: 5000 });
    victim!.signal('SIGKILL');
    await victim!.exited;
    const atKill = await db.hmget('nexus:command:bc-2', 'matched', 'launched', 'finished');
    expect(Number(atKill[1])).toBeLessThan(Number(atKill[0])); // really mid-fan-out
    const inFlight = (await childRecords(db, 'bc-2')).filter((c) => c.state === 'delivered');
    const p = db.pipeline();
    for (const c of inFlight) p.hget(`nexus:agent:${c.target}`, 'replica');
    const onVictim = ((await p.exec()) ?? []).filter(([, r]) => r === handledBy).length;
    console.log(`bc-2 at the kill of ${handledBy}: matched ${atKill[0]}, launched ${atKill[1]}, finished ${atKill[2]}, ${inFlight.length} in flight, ${onVictim} of them on the victim's agents`);
    expect(onVictim).toBeGreaterThan(0); // the kill strands children, not only the launcher

    const parent = await parentTerminal(db, 'bc-2', 60_000);
    expect(TERMINAL.has(parent.state)).toBe(true);
    expect(parent.matched).toBe(String(AGENTS));
    expect(parent.launched).toBe(String(AGENTS));
    expect(parent.finished).toBe(parent.launched);
    expect(Number(parent.n_succeeded) + Number(parent.n_failed) + Number(parent.n_dead) + Number(parent.n_cancelled)).toBe(AGENTS);

    // Each child created once: one record per agent, one command_queued per child id.
    const children = await childRecords(db, 'bc-2');
    expect(children).toHaveLength(AGENTS);
    expect(new Set(children.map((c) => c.command_id)).size).toBe(AGENTS);
    for (const c of children) expect(TERMINAL.has(c.state), `${c.command_id} ${c.state}`).toBe(true);
    const queued = await eventCounts(db, 'command_queued');
    const childQueued = [...queued.entries()].filter(([id]) => id.startsWith('bc-2/'));
    expect(childQueued).toHaveLength(AGENTS);
    expect(childQueued.filter(([, n]) => n !== 1)).toEqual([]);
    expect(queued.get('bc-2')).toBe(1);

    // Run once each (docs/guarantees.md 2), by its own agent; every child succeeded.
    const succeeded = children.filter((c) => c.state === 'succeeded').length;
    await waitFor('execution log has every child', () => new Set(runs().filter((r) => r.command_id.startsWith('bc-2/')).map((r) => r.command_id)).size >= succeeded);
    const mine = runs().filter((r) => r.command_id.startsWith('bc-2/'));
    const perId = new Map<string, number>();
    for (const r of mine) {
      expect(r.command_id).toBe(`bc-2/${r.agent}`);
      perId.set(r.command_id, (perId.get(r.command_id) ?? 0) + 1);
    }
    expect([...perId.entries()].filter(([, n]) => n > 1)).toEqual([]);
    expect(parent.state).toBe('succeeded');
    expect(parent.n_succeeded).toBe(String(AGENTS));
    expect(perId.size).toBe(AGENTS);
    expect(await readDlq(db)).toEqual([]);
  }, 75_000);
});
