import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type Redis from 'ioredis';
import { AgentHolds } from '../../src/redis-bridge/agent-holds';
import { AgentRegistry, type SweepRules } from '../../src/redis-bridge/agent-registry';
import { NexusKeys } from '../../src/redis-bridge/keys';
import { ReplicaRegistry } from '../../src/redis-bridge/replica-registry';
import { defineScripts } from '../../src/redis-bridge/script-loader';
import { readEvents } from '../helpers/events';
import { RedisServer } from '../helpers/redis-server';

const keys = new NexusKeys('{nexus}');
const limits = { recordTtlMs: 600_000, eventsMaxLen: 100_000, reconnectLimit: 100, reconnectWindowMs: 60_000 };
/** Stale after 1 s, offline after 2 s; beats every second; a sweep older than 5 s is a gap. */
const RULES: SweepRules = { staleAfterMs: 1000, offlineAfterMs: 2000, replicaBeatMs: 1000, gapAfterMs: 5000, failoverGraceMs: 30_000 };

describe('the staleness sweep honours holds (sweepAgents-9.lua against a real redis-server)', () => {
  const redis = new RedisServer();
  let db: Redis;
  let agents: AgentRegistry;
  let holds: AgentHolds;

  const now = async (): Promise<number> => {
    const [s, us] = await db.time();
    return Number(s) * 1000 + Math.floor(Number(us) / 1000);
  };
  /** Agents of `replica` whose last pulse was `ageMs` ago, listed online. */
  async function addAgents(replica: string, ids: string[], ageMs: number): Promise<void> {
    const at = (await now()) - ageMs;
    const p = db.pipeline();
    for (const id of ids) p.hset(keys.agent(id), 'replica', replica, 'epoch', 1, 'state', 'online').zadd(keys.agentsOnline, at, id);
    await p.exec();
  }
  /** `replica` beat `ageMs` ago. */
  const beat = async (replica: string, ageMs = 0): Promise<void> => void (await db.zadd(keys.replicas, (await now()) - ageMs, replica));
  const states = async (ids: string[]): Promise<string[]> => Promise.all(ids.map(async (id) => (await db.hget(keys.agent(id), 'state')) ?? 'gone'));
  const events = async (type: string): Promise<Record<string, string>[]> => (await readEvents(db, keys.events)).filter((e) => e.type === type);
  /** A sweep right after the last one (no gap). */
  const sweep = (rules: Partial<SweepRules> = {}) => agents.sweep({ ...RULES, ...rules }, 'sweeper');
  const ids = (prefix: string, n: number): string[] => Array.from({ length: n }, (_, i) => `${prefix}-${i + 1}`);

  beforeAll(async () => {
    await redis.start();
    db = redis.client();
    defineScripts(db);
    agents = new AgentRegistry(db, keys, limits);
    holds = new AgentHolds(db, keys, limits.eventsMaxLen, 'tester');
  });
  afterAll(async () => {
    db?.disconnect();
    await redis.destroy();
  });
  beforeEach(async () => {
    await db.flushall();
    // A sweep just ran: no gap unless a test makes one.
    await db.set(keys.lastSweep, await now());
  });

  it('without holds, silent agents of a beating replica go stale and offline, nothing held', async () => {
    await beat('r1');
    await addAgents('r1', ['a1', 'a2'], 3000);
    const result = await sweep();
    expect(result).toMatchObject({ stale: 2, offline: 2, held: 0, gap: '', activeHolds: 0, holdsEnded: [] });
    expect(await states(['a1', 'a2'])).toEqual(['offline', 'offline']);
  });

  it('a held replica\'s agents are not moved (counted held); other replicas\' agents are', async () => {
    await beat('r1');
    await beat('r2');
    await addAgents('r1', ids('h', 5), 3000);
    await addAgents('r2', ids('f', 3), 3000);
    const { started } = await holds.hold('r1', 60_000, 'mass_silence', { agents_silent: 5, of: 10 });
    expect(started).toBe(true);
    const result = await sweep();
    expect(result).toMatchObject({ stale: 3, offline: 3, held: 5, activeHolds: 1 });
    expect(await states(ids('h', 5))).toEqual(Array(5).fill('online'));
    expect(await states(ids('f', 3))).toEqual(Array(3).fill('offline'));
    expect((await events('agent_stale')).map((e) => e.agent_id).sort()).toEqual(ids('f', 3));
    const [begun] = await events('dampening_started');
    expect(begun).toMatchObject({ replica: 'r1', reason: 'mass_silence', agents_silent: '5', of: '10', by: 'tester' });
  });

  it('an agent already stale is held from going offline too', async () => {
    await beat('r1');
    await addAgents('r1', ['s1'], 1500);
    expect(await sweep()).toMatchObject({ stale: 1, offline: 0 });
    await holds.hold('r1', 60_000, 'replica_down');
    await db.zadd(keys.agentsStale, (await now()) - 3000, 's1');
    expect(await sweep()).toMatchObject({ stale: 0, offline: 0, held: 1 });
    expect(await states(['s1'])).toEqual(['stale']);
  });

  it('a replica still listed live but silent for 2 beats holds its agents; one that beats does not', async () => {
    await beat('quiet', 2500);
    await beat('loud');
    await addAgents('quiet', ['q1', 'q2'], 3000);
    await addAgents('loud', ['l1'], 3000);
    expect(await sweep()).toMatchObject({ stale: 1, offline: 1, held: 2 });
    expect(await states(['q1', 'q2', 'l1'])).toEqual(['online', 'online', 'offline']);
    await beat('quiet');
    expect(await sweep()).toMatchObject({ stale: 2, offline: 2, held: 0 });
  });

  it('a cluster hold (*) holds every transition, while forgetting long-offline agents goes on', async () => {
    await beat('r1');
    await addAgents('r1', ['c1', 'c2'], 3000);
    await db.hset(keys.agent('old'), 'replica', 'r1', 'state', 'offline');
    await db.zadd(keys.agentsOffline, (await now()) - limits.recordTtlMs - 1000, 'old');
    await db.zadd(keys.agentIndex, 0, 'old');
    await holds.hold('*', 60_000, 'sweep_gap');
    expect(await sweep()).toMatchObject({ stale: 0, offline: 0, forgotten: 1, held: 2 });
    expect(await states(['c1', 'c2', 'old'])).toEqual(['online', 'online', 'gone']);
  });

  it('an expired hold is removed by the sweep (dampening_ended, reason bound) and its agents move again', async () => {
    await beat('r1');
    await addAgents('r1', ['e1'], 3000);
    await holds.hold('r1', 200, 'mass_silence');
    expect(await sweep()).toMatchObject({ held: 1, holdsEnded: [] });
    await new Promise((r) => setTimeout(r, 250)); // the hold's own until, on the Redis clock
    expect(await sweep()).toMatchObject({ stale: 1, offline: 1, held: 0, activeHolds: 0, holdsEnded: ['r1'] });
    expect(await db.hlen(keys.agentHolds)).toBe(0);
    expect(await events('dampening_ended')).toEqual([expect.objectContaining({ replica: 'r1', reason: 'bound', held_for: 'mass_silence' })]);
  });

  it('a gap in the sweeps sets a cluster hold for the grace before anything moves', async () => {
    await beat('r1');
    await addAgents('r1', ['g1'], 60_000);
    await db.set(keys.lastSweep, (await now()) - 60_000);
    const result = await sweep();
    expect(result).toMatchObject({ stale: 0, offline: 0, held: 1, gap: 'sweep_gap' });
    const [hold] = await holds.list();
    expect(hold).toMatchObject({ field: '*', reason: 'sweep_gap' });
    expect(hold.untilMs - (await now())).toBeGreaterThan(29_000);
    expect(await events('dampening_started')).toEqual([expect.objectContaining({ replica: '*', reason: 'sweep_gap' })]);
    expect(Number((await events('dampening_started'))[0].gap_ms)).toBeGreaterThanOrEqual(60_000);
    // The next sweep is no gap: the same hold, no second event.
    expect(await sweep()).toMatchObject({ gap: '', held: 1 });
    expect(await events('dampening_started')).toHaveLength(1);
  });

  it('no record of a last sweep while agents are listed online is a gap (Redis restarted from disk); none without agents', async () => {
    await beat('r1');
    await db.del(keys.lastSweep);
    expect(await sweep()).toMatchObject({ gap: '' });
    await addAgents('r1', ['m1'], 60_000);
    await db.del(keys.lastSweep);
    expect(await sweep()).toMatchObject({ gap: 'sweep_gap', held: 1 });
  });

  it('with FAILOVER_GRACE_MS 0 a gap holds nothing', async () => {
    await beat('r1');
    await addAgents('r1', ['z1'], 3000);
    await db.set(keys.lastSweep, (await now()) - 60_000);
    expect(await sweep({ failoverGraceMs: 0 })).toMatchObject({ gap: '', stale: 1, offline: 1, held: 0 });
  });

  it('candidates stay bounded: held agents at the head of the range do not starve the rest', async () => {
    await beat('held');
    await beat('free');
    await addAgents('held', ids('x', 1500), 5000); // older: first in the range
    await addAgents('free', ['y1'], 3000);
    await holds.hold('held', 60_000, 'mass_silence');
    expect(await sweep()).toMatchObject({ stale: 1, offline: 1, held: 1500 });
    expect(await states(['y1'])).toEqual(['offline']);
  });

  it('hold and release: an extension emits no second event; release ends only a hold of its own reason', async () => {
    expect((await holds.hold('r1', 10_000, 'mass_silence')).started).toBe(true);
    expect((await holds.hold('r1', 20_000, 'mass_silence')).started).toBe(false);
    // A shorter hold for another cause changes nothing: the longer one (and its reason) stays.
    expect((await holds.hold('r1', 5000, 'redis_back')).started).toBe(false);
    expect(await holds.list()).toEqual([expect.objectContaining({ field: 'r1', reason: 'mass_silence' })]);
    expect(await holds.release('r1', 'redis_back')).toBe(false);
    expect(await holds.release('r1', 'mass_silence', { agents_silent: 0, of: 20 })).toBe(true);
    expect(await holds.list()).toEqual([]);
    expect((await events('dampening_started')).length).toBe(1);
    expect(await events('dampening_ended')).toEqual([expect.objectContaining({ replica: 'r1', reason: 'cleared', held_for: 'mass_silence', of: '20' })]);
  });

  it('a reaped replica\'s agents are held for the failover grace (reason replica_down)', async () => {
    const replicas = new ReplicaRegistry(db, keys, limits.eventsMaxLen);
    await beat('dead', 10_000);
    await beat('alive');
    await addAgents('dead', ['d1', 'd2'], 3000);
    expect(await replicas.reap(3000, 'alive', 30_000)).toEqual(['dead']);
    expect(await events('dampening_started')).toEqual([expect.objectContaining({ replica: 'dead', reason: 'replica_down', by: 'alive' })]);
    expect(await sweep()).toMatchObject({ stale: 0, held: 2 });
    // Without a grace, the reap holds nothing and the agents move.
    await db.hdel(keys.agentHolds, 'dead');
    await beat('dead2', 10_000);
    await addAgents('dead2', ['e1'], 3000);
    expect(await replicas.reap(3000, 'alive', 0)).toEqual(['dead2']);
    expect(await sweep()).toMatchObject({ stale: 3, held: 0 });
  });
});
