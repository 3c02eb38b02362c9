import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type Redis from 'ioredis';
import { AgentState } from '../../src/generated/nexus/prime/pulse';
import type { Orchestrator } from '../../src/orchestrator/orchestrator';
import { allAgents, statusClient } from '../helpers/grpc-clients';
import { readEvents } from '../helpers/events';
import { startOrchestrator } from '../helpers/in-process';
import { spawnAgent, type Child } from '../helpers/processes';
import { RedisServer } from '../helpers/redis-server';
import { waitFor } from '../helpers/wait-for';

describe('agent states follow the pulse: online -> stale -> offline -> online', () => {
  const redis = new RedisServer();
  let orchestrator: Orchestrator;
  let port: number;
  let agent: Child;
  let db: Redis;

  beforeAll(async () => {
    await redis.start();
    db = redis.client();
    // Keepalive slower than the thresholds, so the silence is what the sweep sees.
    ({ orchestrator, grpcPort: port } = await startOrchestrator(redis.url, {
      STALENESS_THRESHOLD_SEC: '1',
      OFFLINE_THRESHOLD_SEC: '2.5',
      STALENESS_CHECK_INTERVAL: '0.1',
      KEEPALIVE_TIME_MS: '30000',
    }));
    agent = spawnAgent(`127.0.0.1:${port}`, { AGENT_ID: 'sleepy', HEARTBEAT_INTERVAL: '0.2', KEEPALIVE_TIME_MS: '30000' });
  });

  afterAll(async () => {
    agent?.signal('SIGCONT');
    await agent?.stop();
    await orchestrator?.shutdown();
    db?.disconnect();
    await redis.destroy();
  });

  it('marks a silent agent stale, then offline, and online again when it returns', async () => {
    const client = statusClient(port);
    const state = async (): Promise<AgentState | undefined> => (await allAgents(client)).find((a) => a.agentId === 'sleepy')?.state;
    await waitFor('online', async () => (await state()) === AgentState.AGENT_STATE_ONLINE);

    agent.signal('SIGSTOP');
    const stoppedAt = Date.now();
    await waitFor('stale', async () => (await state()) === AgentState.AGENT_STATE_STALE);
    const staleAfter = Date.now() - stoppedAt;
    await waitFor('offline', async () => (await state()) === AgentState.AGENT_STATE_OFFLINE);
    const offlineAfter = Date.now() - stoppedAt;
    expect(staleAfter).toBeGreaterThanOrEqual(800);
    expect(offlineAfter).toBeGreaterThan(staleAfter);

    const events = (await readEvents(db)).filter((e) => e.agent_id === 'sleepy').map((e) => e.type);
    expect(events).toEqual(['agent_connected', 'agent_stale', 'agent_disconnected']);

    agent.signal('SIGCONT');
    await waitFor('online again', async () => (await state()) === AgentState.AGENT_STATE_ONLINE, { timeoutMs: 20_000 });
    client.close();
  });
});
