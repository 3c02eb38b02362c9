import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type Redis from 'ioredis';
import { AgentState, type NexusPulseServiceClient } from '../../src/generated/nexus/prime/pulse';
import { HealthCheckResponse_ServingStatus } from '../../src/generated/grpc/health/v1/health';
import { allAgents, getStatus, healthClient, statusClient } from '../helpers/grpc-clients';
import { readEvents } from '../helpers/events';
import { ipv4Target, spawnAgent, spawnReplica, type Child } from '../helpers/processes';
import { RedisServer } from '../helpers/redis-server';
import { waitFor } from '../helpers/wait-for';

const AGENTS = 12;
type Replica = Awaited<ReturnType<typeof spawnReplica>>;

describe('three replicas behind one target (ipv4: list standing in for the headless service)', () => {
  const redis = new RedisServer();
  let replicas: Replica[] = [];
  let clients: NexusPulseServiceClient[] = [];
  let swarm: Child;
  let db: Redis;

  beforeAll(async () => {
    await redis.start();
    db = redis.client();
    replicas = await Promise.all([1, 2, 3].map((i) => spawnReplica(redis.url, { REPLICA_ID: `r${i}` })));
    clients = replicas.map((r) => statusClient(r.port));
    swarm = spawnAgent(ipv4Target(replicas.map((r) => r.port)), { AGENT_ID: 'swarm', AGENT_COUNT: String(AGENTS) });
  });

  afterAll(async () => {
    clients.forEach((c) => c.close());
    await swarm?.stop();
    await Promise.all(replicas.map((r) => r.stop()));
    db?.disconnect();
    await redis.destroy();
  });

  const live = (): Replica[] => replicas.filter((r) => r.running);
  const client = (r: Replica): NexusPulseServiceClient => clients[replicas.indexOf(r)];

  it('shows every agent, online with live metrics, identically from every replica', async () => {
    await waitFor('all agents online', async () => (await getStatus(clients[0], { summaryOnly: true })).agentCounts?.online === AGENTS, { timeoutMs: 20_000 });
    await waitFor('metrics from every agent', async () => (await allAgents(clients[0])).every((a) => (a.metrics?.memoryTotalBytes ?? 0) > 0));

    const views = await Promise.all(clients.map((c) => allAgents(c)));
    const ids = views[0].map((a) => a.agentId);
    expect(ids).toEqual(Array.from({ length: AGENTS }, (_, i) => `swarm-${i + 1}`).sort());
    for (const view of views) {
      expect(view.map((a) => [a.agentId, a.replicaId, a.sessionId])).toEqual(views[0].map((a) => [a.agentId, a.replicaId, a.sessionId]));
    }
    for (const agent of views[0]) {
      expect(agent.state).toBe(AgentState.AGENT_STATE_ONLINE);
      expect(['r1', 'r2', 'r3']).toContain(agent.replicaId);
      expect(agent.metrics?.memoryUsedBytes).toBeGreaterThan(0);
      expect(agent.metrics?.uptimeSeconds).toBeGreaterThan(0);
      expect(agent.lastPulseUnixMs).toBeGreaterThan(Date.now() - 10_000);
    }
    // Shuffled pick_first spreads agents over the addresses (all on one: p = 3 * 3^-12).
    expect(new Set(views[0].map((a) => a.replicaId)).size).toBeGreaterThan(1);

    for (const c of clients) {
      const status = await getStatus(c, { summaryOnly: true });
      expect(status.replicas.map((r) => r.replicaId).sort()).toEqual(['r1', 'r2', 'r3']);
      expect(status.replicas.every((r) => r.ready)).toBe(true);
      expect(status.agents).toEqual([]);
    }
    const events = await readEvents(db);
    expect(events.filter((e) => e.type === 'replica_up').map((e) => e.replica).sort()).toEqual(['r1', 'r2', 'r3']);
    expect(new Set(events.filter((e) => e.type === 'agent_connected').map((e) => e.agent_id)).size).toBe(AGENTS);
  });

  it('pages by id and filters by prefix, replica and state', async () => {
    const pages: string[][] = [];
    let pageToken = '';
    do {
      const page = await getStatus(clients[1], { pageSize: 5, pageToken });
      pages.push(page.agents.map((a) => a.agentId));
      pageToken = page.nextPageToken;
    } while (pageToken);
    expect(pages.map((p) => p.length)).toEqual([5, 5, 2]);
    expect(pages.flat()).toEqual([...pages.flat()].sort());

    const prefixed = await allAgents(clients[2], { agentIdPrefix: 'swarm-1' });
    expect(prefixed.map((a) => a.agentId)).toEqual(['swarm-1', 'swarm-10', 'swarm-11', 'swarm-12']);

    const onR1 = await allAgents(clients[0], { replicaId: 'r1' });
    expect(onR1.every((a) => a.replicaId === 'r1')).toBe(true);
    expect((await allAgents(clients[0], { state: AgentState.AGENT_STATE_STALE })).length).toBe(0);
    await expect(getStatus(clients[0], { pageSize: 5000 })).rejects.toMatchObject({ code: 3 });
  });

  it('moves the agents of a SIGKILLed replica to the survivors', async () => {
    const agents = await allAgents(clients[0]);
    const victim = replicas.find((r) => agents.some((a) => a.replicaId === r.replicaId))!;
    const moved = agents.filter((a) => a.replicaId === victim.replicaId).map((a) => a.agentId);
    victim.signal('SIGKILL');
    const killedAt = Date.now();
    const survivor = live().find((r) => r !== victim)!;
    await waitFor('the victim\'s agents online on survivors', async () => {
      const now = await allAgents(client(survivor));
      return moved.every((id) => {
        const a = now.find((x) => x.agentId === id);
        return a?.state === AgentState.AGENT_STATE_ONLINE && a.replicaId !== victim.replicaId;
      });
    });
    console.log(`SIGKILL: ${moved.length} agents back on survivors after ${Date.now() - killedAt} ms`);
    await waitFor('replica_down for the victim', async () => (await readEvents(db)).some((e) => e.type === 'replica_down' && e.replica === victim.replicaId));
    expect((await getStatus(client(survivor), { summaryOnly: true })).agentCounts?.online).toBe(AGENTS);
  });

  it('drains on SIGTERM: readiness NOT_SERVING, exit 0 within the grace, agents move', async () => {
    const [victim, survivor] = live();
    const agents = await allAgents(client(survivor));
    const moved = agents.filter((a) => a.replicaId === victim.replicaId).map((a) => a.agentId);
    const health = healthClient(victim.port);
    const seen: string[] = [];
    const watch = health.watch({ service: 'nexus.prime.NexusPulseService' });
    watch.on('data', (r: { status: number }) => seen.push(HealthCheckResponse_ServingStatus[r.status]));
    watch.on('error', () => undefined);
    await waitFor('watch to report SERVING', () => seen.includes('SERVING'));

    const started = Date.now();
    victim.signal('SIGTERM');
    const exit = await victim.exited;
    const tookMs = Date.now() - started;
    health.close();
    expect(exit.code).toBe(0);
    expect(tookMs).toBeLessThan(5000); // SHUTDOWN_GRACE_MS in the test settings
    expect(seen).toContain('NOT_SERVING');
    expect(victim.output.some((l) => l.includes('"draining"'))).toBe(true);
    console.log(`SIGTERM: replica exited 0 after ${tookMs} ms, ${moved.length} agents drained`);

    await waitFor('drained agents online on the survivor', async () => {
      const now = await allAgents(client(survivor));
      return moved.every((id) => now.find((a) => a.agentId === id)?.replicaId === survivor.replicaId) && now.filter((a) => a.state === AgentState.AGENT_STATE_ONLINE).length === AGENTS;
    });
    const downs = (await readEvents(db)).filter((e) => e.type === 'replica_down' && e.replica === victim.replicaId);
    expect(downs.map((e) => e.reason)).toEqual(['SIGTERM']);
  });
});
