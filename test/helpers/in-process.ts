import { compileOrchestratorConfig } from '../../src/orchestrator/config';
import { Orchestrator, type Endpoints } from '../../src/orchestrator/orchestrator';
import { createLogger } from '../../src/shared/logger';
import { FAST_ORCHESTRATOR_ENV } from './processes';

/** An orchestrator in the test process (for tests that need no signals), on free ports. */
export async function startOrchestrator(redisUrl: string, env: Record<string, string> = {}): Promise<{ orchestrator: Orchestrator } & Endpoints> {
  const config = compileOrchestratorConfig({
    ...FAST_ORCHESTRATOR_ENV,
    LOG_LEVEL: 'silent',
    REDIS_URL: redisUrl,
    GRPC_HOST: '127.0.0.1',
    GRPC_PORT: '0',
    METRICS_PORT: '0',
    ...env,
  });
  const orchestrator = new Orchestrator(config, createLogger(config.logLevel));
  const endpoints = await orchestrator.start();
  return { orchestrator, ...endpoints };
}
