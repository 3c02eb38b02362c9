import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { status } from '@grpc/grpc-js';
import { HealthCheckResponse_ServingStatus } from '../../src/generated/grpc/health/v1/health';
import type { Orchestrator } from '../../src/orchestrator/orchestrator';
import { checkHealth, getStatus, healthClient, statusClient } from '../helpers/grpc-clients';
import { startOrchestrator } from '../helpers/in-process';
import { RedisServer } from '../helpers/redis-server';
import { waitFor } from '../helpers/wait-for';

describe('health: liveness stays up, readiness follows Redis', () => {
  const redis = new RedisServer();
  let orchestrator: Orchestrator;
  let port: number;

  beforeAll(async () => {
    await redis.start();
    ({ orchestrator, grpcPort: port } = await startOrchestrator(redis.url));
  });

  afterAll(async () => {
    await orchestrator?.shutdown();
    await redis.destroy();
  });

  it('turns readiness NOT_SERVING while Redis is stopped and SERVING when it returns; liveness SERVING throughout', async () => {
    const health = healthClient(port);
    const ready = () => checkHealth(health, 'nexus.prime.NexusPulseService');
    const watched: string[] = [];
    const watch = health.watch({ service: 'nexus.prime.NexusPulseService' });
    watch.on('data', (r: { status: number }) => watched.push(HealthCheckResponse_ServingStatus[r.status]));
    watch.on('error', () => undefined);

    await waitFor('ready', async () => (await ready()) === 'SERVING');
    expect(await checkHealth(health, '')).toBe('SERVING');

    await redis.stop('SIGKILL');
    const stoppedAt = Date.now();
    await waitFor('NOT_SERVING', async () => (await ready()) === 'NOT_SERVING', { timeoutMs: 5000 });
    const detectMs = Date.now() - stoppedAt;
    expect(await checkHealth(health, '')).toBe('SERVING');
    const client = statusClient(port);
    await expect(getStatus(client)).rejects.toMatchObject({ code: status.UNAVAILABLE });

    await redis.start(); // same port
    const restartedAt = Date.now();
    await waitFor('SERVING again', async () => (await ready()) === 'SERVING', { timeoutMs: 10_000 });
    const recoverMs = Date.now() - restartedAt;
    expect(await checkHealth(health, '')).toBe('SERVING');
    await waitFor('status answers again', async () => (await getStatus(client)).answeredBy !== '');
    console.log(`readiness: NOT_SERVING ${detectMs} ms after Redis died, SERVING ${recoverMs} ms after it returned`);

    await waitFor('watch saw both transitions', () => watched.join(',').includes('SERVING,NOT_SERVING,SERVING'));
    await expect(checkHealth(health, 'no.such.Service')).rejects.toMatchObject({ code: status.NOT_FOUND });
    watch.cancel();
    health.close();
    client.close();
  });
});
