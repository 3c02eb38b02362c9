import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type Redis from 'ioredis';
import type { Orchestrator } from '../../src/orchestrator/orchestrator';
import { useAgents } from '../helpers/agents';
import { INGRESS, readDlq, xaddMany } from '../helpers/commands';
import { startOrchestrator } from '../helpers/in-process';
import { RedisServer } from '../helpers/redis-server';
import { waitFor } from '../helpers/wait-for';

const BACKLOG = 15_000;
const TARGETS = 10;

describe('a backlog above the trim target, written while no replica runs', () => {
  const redis = new RedisServer();
  const startAgent = useAgents();
  let db: Redis;
  let orchestrator: Orchestrator | undefined;

  beforeAll(async () => {
    await redis.start();
    db = redis.client();
  });

  afterAll(async () => {
    await orchestrator?.shutdown();
    db?.disconnect();
    await redis.destroy();
  });

  it('is handled completely: nothing is trimmed before it is routed', async () => {
    for (let chunk = 0; chunk < BACKLOG; chunk += 1000) {
      await xaddMany(db, Array.from({ length: 1000 }, (_, i) => {
        const n = chunk + i;
        return ['target', `bl-${n % TARGETS}`, 'command_id', `bl-${n}`, 'command_type', 'echo', 'payload', String(n)];
      }));
    }
    expect(await db.xlen(INGRESS)).toBe(BACKLOG);

    const started = await startOrchestrator(redis.url, { INGRESS_TARGET_LEN: '10000', MAINTENANCE_INTERVAL_MS: '100', DELIVERY_WINDOW_MAX: '32' });
    orchestrator = started.orchestrator;
    for (let i = 0; i < TARGETS; i++) await startAgent(`bl-${i}`, started.grpcPort, {}, 32);
    await waitFor('every backlog command succeeded', async () => Number(await db.hget('nexus:commands:counts', 'succeeded')) === BACKLOG, { timeoutMs: 90_000, intervalMs: 250 });
    expect(await readDlq(db)).toEqual([]);
    // Once handled, the ingress is trimmed below the group's progress.
    await waitFor('ingress trimmed', async () => (await db.xlen(INGRESS)) < BACKLOG);
    expect(await db.hget('nexus:command:bl-14999', 'output')).toBe('14999');
  });
});
