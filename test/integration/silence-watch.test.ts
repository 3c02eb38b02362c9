import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type Redis from 'ioredis';
import { AgentHolds } from '../../src/redis-bridge/agent-holds';
import { AgentRegistry } from '../../src/redis-bridge/agent-registry';
import { NexusKeys } from '../../src/redis-bridge/keys';
import { defineScripts } from '../../src/redis-bridge/script-loader';
import { OrchestratorMetrics } from '../../src/orchestrator/metrics';
import type { Session } from '../../src/orchestrator/session';
import { SessionRegistry } from '../../src/orchestrator/session-registry';
import { SilenceWatch } from '../../src/orchestrator/silence-watch';
import { createLogger } from '../../src/shared/logger';
import { readEvents } from '../helpers/events';
import { RedisServer } from '../helpers/redis-server';
import { waitFor } from '../helpers/wait-for';

const keys = new NexusKeys('nexus');
/** Welcome heartbeat 100 ms: silent after 200 ms, ends settle for 200 ms. */
const HEARTBEAT_MS = 100;

/** What the watch reads of a session (the rest of Session is the gRPC stream, not used here). */
function session(agentId: string, epoch: number, silentForMs = 0): Session {
  return { agentId, epoch, state: 'live', lastHeardAt: performance.now() - silentForMs } as unknown as Session;
}

describe('the silence watch: mass silence on one replica (real redis-server, sessions without streams)', () => {
  const redis = new RedisServer();
  let db: Redis;
  let agents: AgentRegistry;
  let holds: AgentHolds;
  let sessions: SessionRegistry;
  let written: string[];
  let metrics: OrchestratorMetrics;

  function watch(settings: Partial<{ dampenSilentShare: number; dampenMinAgents: number; dampenMaxMs: number }> = {}): SilenceWatch {
    return new SilenceWatch(sessions, agents, holds, {
      replicaId: 'r1', stalenessThresholdMs: 60_000, dampenSilentShare: 0.3, dampenMinAgents: 10, dampenMaxMs: 60_000, failoverGraceMs: 0, ...settings,
    }, HEARTBEAT_MS, async (id) => void written.push(id), metrics, createLogger('silent'));
  }
  /** `n` live sessions `<prefix>-1..n` with records (epoch = index), listed online. */
  async function connect(prefix: string, n: number): Promise<Session[]> {
    const out: Session[] = [];
    for (let i = 1; i <= n; i++) {
      const s = session(`${prefix}-${i}`, i);
      sessions.add(s);
      await db.hset(keys.agent(s.agentId), 'replica', 'r1', 'epoch', i);
      await db.zadd(keys.agentsOnline, Date.now(), s.agentId);
      out.push(s);
    }
    return out;
  }
  /** The session ends without goodbye, as release() hands it over; true: the watch took the write. */
  const endAbruptly = (s: Session, w: SilenceWatch): boolean => {
    sessions.remove(s);
    return w.sessionEnded(s, 'stream error');
  };
  const events = async (type: string): Promise<Record<string, string>[]> => (await readEvents(db)).filter((e) => e.type === type);
  const gauge = async (name: string): Promise<number> => ((await metrics.registry.getSingleMetric(name)?.get())?.values[0]?.value ?? NaN);

  beforeAll(async () => {
    await redis.start();
    db = redis.client();
    defineScripts(db);
    agents = new AgentRegistry(db, keys, { recordTtlMs: 600_000, eventsMaxLen: 10_000, reconnectLimit: 100, reconnectWindowMs: 60_000 });
    holds = new AgentHolds(db, keys, 10_000, 'r1');
  });
  afterAll(async () => {
    db?.disconnect();
    await redis.destroy();
  });
  beforeEach(async () => {
    await db.flushall();
    sessions = new SessionRegistry();
    written = [];
    metrics = new OrchestratorMetrics({ replica: 'r1' }, () => 0);
  });

  it('with fewer agents than DAMPEN_MIN_AGENTS an end is written at once; with DAMPEN_SILENT_SHARE 0 always', async () => {
    const few = await connect('few', 5);
    expect(endAbruptly(few[0], watch())).toBe(false);
    const many = await connect('many', 20);
    expect(endAbruptly(many[0], watch({ dampenSilentShare: 0 }))).toBe(false);
  });

  it('a few ends wait the settle delay (2 heartbeat intervals), then are written', async () => {
    const all = await connect('a', 20);
    const w = watch();
    for (const s of all.slice(0, 3)) expect(endAbruptly(s, w)).toBe(true);
    await w.tick();
    expect(written).toEqual([]);
    const settleFrom = performance.now();
    await waitFor('ends written after the settle delay', async () => {
      for (const s of all.slice(3)) s.lastHeardAt = performance.now(); // the others keep pulsing
      await w.tick();
      return written.length === 3;
    });
    expect(performance.now() - settleFrom).toBeGreaterThanOrEqual(2 * HEARTBEAT_MS - 50);
    expect(written.sort()).toEqual(['a-1', 'a-2', 'a-3']);
    expect(w.holding).toBe(false);
    expect(await holds.list()).toEqual([]);
  });

  it('a burst above the share holds the replica once; ends then are left to the sweep; pulses again clear it', async () => {
    const all = await connect('b', 20);
    const w = watch();
    for (const s of all.slice(0, 8)) endAbruptly(s, w);
    // Two more are still open but silent for longer than 2 heartbeat intervals.
    all[8].lastHeardAt -= 1000;
    all[9].lastHeardAt -= 1000;
    await w.tick();
    expect(w.holding).toBe(true);
    expect(await holds.list()).toEqual([expect.objectContaining({ field: 'r1', reason: 'mass_silence' })]);
    expect(await events('dampening_started')).toEqual([expect.objectContaining({ replica: 'r1', reason: 'mass_silence', agents_silent: '10', of: '20' })]);
    expect(await gauge('nexus_dampening_active')).toBe(1);
    // While holding: a later end is taken over and never written; no second event.
    expect(endAbruptly(all[10], w)).toBe(true);
    await w.tick();
    expect(written).toEqual([]);
    expect(await events('dampening_started')).toHaveLength(1);

    // 6 of the 11 pulse again (written by any replica): 5 of 20 missing is below the share.
    const now = Number((await db.time())[0]) * 1000 + 1000;
    for (const s of [...all.slice(0, 5), all[8]]) await db.zadd(keys.agentsOnline, now, s.agentId);
    await w.tick();
    expect(w.holding).toBe(false);
    expect(await holds.list()).toEqual([]);
    expect(await events('dampening_ended')).toEqual([expect.objectContaining({ replica: 'r1', reason: 'cleared', held_for: 'mass_silence' })]);
    expect(await gauge('nexus_dampening_active')).toBe(0);
    expect(written).toEqual([]);
  });

  it('at DAMPEN_MAX_MS the hold ends, and the same silence does not start another', async () => {
    const all = await connect('c', 20);
    const w = watch({ dampenMaxMs: 300 });
    for (const s of all.slice(0, 12)) s.lastHeardAt -= 1000;
    await w.tick();
    expect(w.holding).toBe(true);
    await waitFor('the bound', async () => {
      await w.tick();
      return !w.holding;
    });
    // Still silent, and now they end too: counted no more, so no new hold; their ends are written.
    for (const s of all.slice(0, 12)) endAbruptly(s, w);
    await w.tick();
    expect(w.holding).toBe(false);
    expect(await events('dampening_started')).toHaveLength(1);
    await waitFor('ends written', async () => {
      await w.tick();
      return written.length === 12;
    });
  });

  it('an agent that started a session elsewhere (newer epoch) is not missing', async () => {
    const all = await connect('d', 20);
    const w = watch();
    for (const s of all.slice(0, 10)) endAbruptly(s, w);
    for (const s of all.slice(0, 5)) await db.hset(keys.agent(s.agentId), 'epoch', 1000);
    await w.tick();
    expect(w.holding).toBe(false);
    expect(await gauge('nexus_silent_agents')).toBe(5);
  });
});
