import { afterAll, beforeAll } from 'vitest';
import { compileOrchestratorConfig } from '../../src/orchestrator/config';
import { Orchestrator, type Endpoints, type OrchestratorOptions } from '../../src/orchestrator/orchestrator';
import { createLogger } from '../../src/shared/logger';
import { FAST_ORCHESTRATOR_ENV } from './processes';
import { RedisServer } from './redis-server';

/** An orchestrator in the test process (for tests that need no signals), on free ports. */
export async function startOrchestrator(redisUrl: string, env: Record<string, string> = {}, options: OrchestratorOptions = {}): Promise<{ orchestrator: Orchestrator } & Endpoints> {
  const config = compileOrchestratorConfig({
    ...FAST_ORCHESTRATOR_ENV,
    // TEST_LOG_LEVEL=debug shows an in-process orchestrator's logs when a test needs explaining.
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    REDIS_URL: redisUrl,
    GRPC_HOST: '127.0.0.1',
    GRPC_PORT: '0',
    METRICS_PORT: '0',
    ...env,
  });
  const orchestrator = new Orchestrator(config, createLogger(config.logLevel), options);
  const endpoints = await orchestrator.start();
  return { orchestrator, ...endpoints };
}

/** What `useOrchestrator` provides to the tests of a suite (filled in by beforeAll). */
export interface OrchestratorFixture {
  readonly redis: RedisServer;
  orchestrator: Orchestrator;
  port: number;
}

/**
 * Registers beforeAll/afterAll hooks for a suite: a private redis-server and one in-process
 * orchestrator on it; both are stopped after the suite.
 */
export function useOrchestrator(env: Record<string, string> = {}): OrchestratorFixture {
  const fixture = { redis: new RedisServer(), port: 0 } as OrchestratorFixture;
  beforeAll(async () => {
    await fixture.redis.start();
    const started = await startOrchestrator(fixture.redis.url, env);
    fixture.orchestrator = started.orchestrator;
    fixture.port = started.grpcPort;
  });
  afterAll(async () => {
    await fixture.orchestrator?.shutdown();
    await fixture.redis.destroy();
  });
  return fixture;
}
