import { describe, expect, it } from 'vitest';
import { status } from '@grpc/grpc-js';
import { HealthCheckResponse_ServingStatus } from '../../src/generated/grpc/health/v1/health';
import { checkHealth, getStatus, healthClient, statusClient } from '../helpers/grpc-clients';
import { Readiness } from '../../src/orchestrator/readiness';
import { closeRedis, createRedis } from '../../src/redis-bridge/redis-connection';
import { createLogger } from '../../src/shared/logger';
import { useOrchestrator } from '../helpers/in-process';
import { RedisServer } from '../helpers/redis-server';
import { waitFor } from '../helpers/wait-for';

describe('health: liveness stays up, readiness follows Redis', () => {
  const fx = useOrchestrator();

  it('turns readiness NOT_SERVING while Redis is stopped and SERVING when it returns; liveness SERVING throughout', async () => {
    const { redis, port } = fx;
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

describe('readiness probe', () => {
  it('stays SERVING through its own event-loop stall longer than the probe timeout', async () => {
    const redis = await new RedisServer().start();
    const logger = createLogger('silent');
    const probe = createRedis(redis.url, 'probe', { name: 'probe-test', commandTimeoutMs: 200 }, logger);
    const changes: boolean[] = [];
    const readiness = new Readiness(probe, 200, (ready) => changes.push(ready), logger);
    try {
      readiness.markStarted();
      await readiness.check();
      expect(readiness.ready).toBe(true);
      // The PONG arrives during a 300 ms stall (the probe's timeout is 200 ms) and waits unread.
      const checking = readiness.check();
      const until = performance.now() + 300;
      while (performance.now() < until) Math.sqrt(Math.random());
      await checking;
      expect(readiness.ready).toBe(true);
      expect(changes).toEqual([true]);
      // A Redis that does not answer still turns it NOT_SERVING.
      process.kill(redis.pid!, 'SIGSTOP');
      await readiness.check();
      expect(readiness.ready).toBe(false);
      expect(changes).toEqual([true, false]);
    } finally {
      if (redis.pid) process.kill(redis.pid, 'SIGCONT');
      await closeRedis(probe);
      await redis.destroy();
    }
  });
});
