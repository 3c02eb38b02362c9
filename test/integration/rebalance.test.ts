import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type Redis from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort } from '../../scripts/lib/free-port';
import { readEvents } from '../helpers/events';
import { ipv4Target, spawnAgent, spawnReplica, type Child } from '../helpers/processes';
import { RedisServer } from '../helpers/redis-server';
import { waitFor } from '../helpers/wait-for';
import { check, settled } from '../faults/harness/checker';
import { FLEET_KEEPALIVE } from '../faults/harness/fault-cluster';
import { Workload } from '../faults/harness/workload';

/*
 * Rebalancing (issue 19, docs/balancing.md) with real processes: replicas that hold more than
 * their fair share plus the tolerance move settled agents to lighter replicas, which agents
 * reach through the drain's reconnect_to even when it is not in their own target list.
 */

type Replica = Awaited<ReturnType<typeof spawnReplica>>;

// Fleet keepalive on both ends: the 1 s / 0.5 s of the fast settings drop links of a 300-agent
// swarm process on a loaded 2-core machine (see FLEET_KEEPALIVE), which would look like moves.
const BALANCE_ENV = { ...FLEET_KEEPALIVE, REBALANCE_RATE: '50', REBALANCE_TOLERANCE_PCT: '10', REBALANCE_SETTLE_MS: '1500', LOG_LEVEL: 'warn' };

describe('rebalancing', () => {
  let redis: RedisServer;
  let db: Redis;
  let dir = '';
  const children: Child[] = [];

  afterEach(async () => {
    await Promise.all(children.splice(0).map((c) => c.stop()));
    db?.disconnect();
    await redis?.destroy();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  async function start(): Promise<void> {
    redis = new RedisServer();
    await redis.start();
    db = redis.client();
    dir = mkdtempSync(join(tmpdir(), 'nexus-rebalance-'));
  }

  /** A replica on a port chosen first, advertising 127.0.0.1:<port> (as a pod advertises its IP). */
  async function replica(id: string, env: Record<string, string>, port?: number): Promise<Replica> {
    const grpcPort = port ?? await freePort();
    const r = await spawnReplica(redis.url, { ...env, REPLICA_ID: id, GRPC_PORT: String(grpcPort), ADVERTISE_ADDRESS: `127.0.0.1:${grpcPort}` });
    children.push(r);
    return r;
  }

  function swarm(target: string, count: number, executionLog: string): Child {
    const s = spawnAgent(target, { ...FLEET_KEEPALIVE, AGENT_ID: 'sw', AGENT_COUNT: String(count), MAX_CONCURRENCY: '4', EXECUTION_LOG: executionLog, LOG_LEVEL: 'warn' });
    children.push(s);
    return s;
  }

  /** Online agents per replica, from the agent records. */
  async function perReplica(count: number): Promise<Record<string, number>> {
    const p = db.pipeline();
    for (let i = 1; i <= count; i++) p.hmget(`nexus:agent:sw-${i}`, 'replica', 'state');
    const out: Record<string, number> = {};
    for (const [, v] of (await p.exec()) ?? []) {
      const [replicaId, state] = v as [string | null, string | null];
      if (state === 'online' && replicaId) out[replicaId] = (out[replicaId] ?? 0) + 1;
    }
    return out;
  }

  function balanced(counts: Record<string, number>, ids: readonly string[], total: number, tolerance: number): boolean {
    const share = total / ids.length;
    const sum = ids.reduce((n, id) => n + (counts[id] ?? 0), 0);
    return sum === total && ids.every((id) => Math.abs((counts[id] ?? 0) - share) <= tolerance);
  }

  /** agent_connected events after `sinceId`, per agent. */
  async function connectsSince(sinceId: string): Promise<{ perAgent: Map<string, number>; toReplica: Map<string, number> }> {
    const perAgent = new Map<string, number>();
    const toReplica = new Map<string, number>();
    for (const e of await readEvents(db)) {
      if (e.type !== 'agent_connected' || e.id <= sinceId) continue;
      perAgent.set(e.agent_id, (perAgent.get(e.agent_id) ?? 0) + 1);
      toReplica.set(e.replica, (toReplica.get(e.replica) ?? 0) + 1);
    }
    return { perAgent, toReplica };
  }

  const lastEventId = async (): Promise<string> => (await db.xrevrange('nexus:events:stream', '+', '-', 'COUNT', 1))[0]?.[0] ?? '0-0';

  it('300 agents on 2 replicas, a third starts: each ends with 100 ± 10, every moved agent moved once and landed on the new one, nothing lost or run twice', async () => {
    await start();
    const log = join(dir, 'runs.jsonl');
    const [r1, r2] = [await replica('r1', BALANCE_ENV), await replica('r2', BALANCE_ENV)];
    swarm(ipv4Target([r1.port, r2.port]), 300, log);
    await waitFor('300 agents online on r1 and r2', async () => {
      const c = await perReplica(300);
      return (c.r1 ?? 0) + (c.r2 ?? 0) === 300;
    }, { timeoutMs: 30_000, intervalMs: 200 });
    // Commands in flight throughout: 300 ms sleeps at 100/s to agents wherever they are.
    const agents = Array.from({ length: 300 }, (_, i) => `sw-${i + 1}`);
    const workload = new Workload(db, agents, 'rb', 'sleep', '300');
    const load = workload.run(100, 6000);

    const before = await perReplica(300);
    const mark = await lastEventId();
    const startedAt = Date.now();
    await replica('r3', BALANCE_ENV);
    const after = await waitFor('each replica within 100 ± 10', async () => {
      const c = await perReplica(300);
      return balanced(c, ['r1', 'r2', 'r3'], 300, 10) && c;
    }, { timeoutMs: 30_000, intervalMs: 100 });
    const settleMs = Date.now() - startedAt;
    await load;
    await settled(db, workload, 30_000);
    const result = await check(db, workload, [log]);
    const { perAgent, toReplica } = await connectsSince(mark);
    const twice = [...perAgent].filter(([, n]) => n > 1).map(([a]) => a);
    if (twice.length > 0) console.log('connected more than once:', JSON.stringify((await readEvents(db)).filter((e) => twice.includes(e.agent_id) && e.type.startsWith('agent_'))));
    console.log(`rebalance 2 -> 3 replicas, 300 agents: before ${JSON.stringify(before)}, after ${JSON.stringify(after)} in ${settleMs} ms; moves ${perAgent.size} (landed ${JSON.stringify(Object.fromEntries(toReplica))}); commands ${workload.acknowledged.size}, outcomes ${JSON.stringify(result.outcomes)}`);
    expect(result.lost).toEqual([]);
    expect(result.duplicated).toEqual([]);
    // Only the surplus moved (about 100), each agent at most once, and onto the new replica.
    expect(perAgent.size).toBeGreaterThanOrEqual(90);
    expect(perAgent.size).toBeLessThanOrEqual(120);
    expect(Math.max(...perAgent.values())).toBe(1);
    expect(toReplica.get('r3') ?? 0).toBeGreaterThanOrEqual(perAgent.size - 5);
  }, 120_000);

  it('a rolling restart of 3 replicas ends balanced (the last one restarted is refilled)', async () => {
    await start();
    const ports = [await freePort(), await freePort(), await freePort()];
    for (const [i, port] of ports.entries()) await replica(`r${i + 1}`, BALANCE_ENV, port);
    swarm(ipv4Target(ports), 150, join(dir, 'runs.jsonl'));
    await waitFor('150 agents online', async () => Object.values(await perReplica(150)).reduce((a, b) => a + b, 0) === 150, { timeoutMs: 30_000, intervalMs: 200 });
    const before = await perReplica(150);
    const ids: string[] = [];
    for (const [i, port] of ports.entries()) {
      const old = children.find((c) => c.name === `r${i + 1}`)!;
      await old.stop();
      children.splice(children.indexOf(old), 1);
      const id = `r${i + 1}b`;
      ids.push(id);
      await replica(id, BALANCE_ENV, port);
      // As Kubernetes waits for readiness before it goes on, wait until the old replica's agents are back.
      await waitFor(`150 agents online after restarting r${i + 1}`, async () => {
        const c = await perReplica(150);
        return Object.keys(c).every((r) => !r.startsWith(`r${i + 1}`) || r === id) && Object.values(c).reduce((a, b) => a + b, 0) === 150;
      }, { timeoutMs: 30_000, intervalMs: 100 });
    }
    const after = await waitFor('each restarted replica within 50 ± 5', async () => {
      const c = await perReplica(150);
      return balanced(c, ids, 150, 5) && c;
    }, { timeoutMs: 30_000, intervalMs: 100 });
    console.log(`rolling restart, 150 agents: before ${JSON.stringify(before)}, after ${JSON.stringify(after)}`);
  }, 150_000);

  it('REBALANCE_RATE=0 leaves agents where they are; MAX_SESSION_AGE_MS still spreads them', async () => {
    await start();
    const off = { ...BALANCE_ENV, REBALANCE_RATE: '0' };
    const r1 = await replica('r1', off);
    swarm(ipv4Target([r1.port]), 40, join(dir, 'runs.jsonl'));
    await waitFor('40 agents online on r1', async () => (await perReplica(40)).r1 === 40, { timeoutMs: 20_000 });
    const mark = await lastEventId();
    await replica('r2', off);
    // Long past the settling period (r2 beats every 250 ms): r2 has beaten 12 times.
    await waitFor('r2 up for 3 s', async () => {
      const [started, seen] = await db.hmget('nexus:replica:r2', 'started_at', 'last_seen');
      return Number(seen) - Number(started) >= 3000;
    }, { timeoutMs: 10_000 });
    expect(await perReplica(40)).toEqual({ r1: 40 });
    expect((await connectsSince(mark)).perAgent.size).toBe(0);

    // The backstop alone: sessions end at 90-100 % of their maximum age, pointed at the lighter replica.
    const r3 = await replica('r3', { ...off, MAX_SESSION_AGE_MS: '10000' });
    const agents = spawnAgent(ipv4Target([r3.port]), { AGENT_ID: 'aged', AGENT_COUNT: '20', LOG_LEVEL: 'warn' });
    children.push(agents);
    const ageMark = await lastEventId();
    await waitFor('aged agents moved off r3 at their maximum age', async () => {
      const { toReplica } = await connectsSince(ageMark);
      return (toReplica.get('r1') ?? 0) + (toReplica.get('r2') ?? 0) >= 10;
    }, { timeoutMs: 25_000, intervalMs: 200 });
  }, 90_000);
});
