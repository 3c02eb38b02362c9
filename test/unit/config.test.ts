import { describe, expect, it } from 'vitest';
import { compileAgentCliConfig, loadAgentCliConfig } from '../../src/agent/config';
import { compileOrchestratorConfig, loadOrchestratorConfig } from '../../src/orchestrator/config';
import { ConfigError } from '../../src/shared/config-error';

function errorOf(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

describe('orchestrator configuration', () => {
  it('has the documented defaults', () => {
    const c = compileOrchestratorConfig({});
    expect(c).toMatchObject({
      grpcPort: 50051,
      redisUrl: 'redis://localhost:6379/0',
      metricsPort: 9090,
      keyPrefix: 'nexus',
      stalenessThresholdMs: 60_000,
      stalenessCheckIntervalMs: 30_000,
      offlineThresholdMs: 120_000,
      maxMessageBytes: 1024 * 1024,
    });
    expect(c.replicaId).toMatch(/-[0-9a-f]{6}$/);
    expect(compileOrchestratorConfig({}).replicaId).not.toBe(c.replicaId);
    expect(Object.isFrozen(c)).toBe(true);
  });

  it.each([
    ['GRPC_PORT', 'abc', /not an integer/],
    ['GRPC_PORT', '70000', /outside/],
    ['REDIS_URL', 'http://x', /protocol/],
    ['REDIS_URL', 'not a url', /valid URL/],
    ['STALENESS_THRESHOLD_SEC', '-1', /not a number/],
    ['LOG_LEVEL', 'loud', /not one of/],
    ['REPLICA_ID', 'has space', /does not match/],
  ])('rejects %s=%s naming the variable', (name, value, reason) => {
    const err = errorOf(() => compileOrchestratorConfig({ [name]: value }));
    expect(err.variable).toBe(name);
    expect(err.message).toMatch(reason);
  });

  it('checks settings against each other', () => {
    expect(errorOf(() => compileOrchestratorConfig({ STALENESS_THRESHOLD_SEC: '10', OFFLINE_THRESHOLD_SEC: '5' })).variable).toBe('OFFLINE_THRESHOLD_SEC');
    expect(errorOf(() => compileOrchestratorConfig({ DRAIN_WINDOW_MS: '30000', SHUTDOWN_GRACE_MS: '20000' })).variable).toBe('DRAIN_WINDOW_MS');
  });

  it('takes every variable as a flag too, flags winning over the environment', () => {
    const c = loadOrchestratorConfig({ GRPC_PORT: '1000', METRICS_PORT: '0' }, ['--grpc-port=2000', '--replica-id', 'r7']);
    expect(c.grpcPort).toBe(2000);
    expect(c.replicaId).toBe('r7');
    expect(c.metricsPort).toBe(0);
    expect(errorOf(() => loadOrchestratorConfig({}, ['--grpc-prot=1'])).variable).toBe('--grpc-prot');
    expect(errorOf(() => loadOrchestratorConfig({}, ['--grpc-port'])).variable).toBe('--grpc-port');
  });
});

describe('agent configuration', () => {
  it('has the documented defaults', () => {
    const c = compileAgentCliConfig({ AGENT_ID: 'A1' });
    expect(c.agentCount).toBe(1);
    expect(c.agent).toMatchObject({
      agentId: 'A1',
      orchestrator: 'localhost:50051',
      heartbeatIntervalMs: 10_000,
      maxRetries: 0,
      initialBackoffMs: 1000,
      maxBackoffMs: 60_000,
      capabilities: ['scan', 'report', 'analyze', 'execute'],
    });
  });

  it('reads seconds with fractions, lists and labels', () => {
    const c = compileAgentCliConfig({ AGENT_ID: 'A1', HEARTBEAT_INTERVAL: '0.5', INITIAL_BACKOFF: '0.25', CAPABILITIES: 'a, b', AGENT_LABELS: 'zone=eu,rack=7' });
    expect(c.agent.heartbeatIntervalMs).toBe(500);
    expect(c.agent.initialBackoffMs).toBe(250);
    expect(c.agent.capabilities).toEqual(['a', 'b']);
    expect(c.agent.labels).toEqual({ zone: 'eu', rack: '7' });
  });

  it.each([
    ['HEARTBEAT_INTERVAL', 'often', /not a number of seconds/],
    ['MAX_RETRIES', '-1', /outside/],
    ['INITIAL_BACKOFF', 'x', /not a number/],
    ['AGENT_COUNT', '0', /outside/],
    ['AGENT_ID', 'bad id!', /letters, digits/],
    ['AGENT_LABELS', 'novalue', /key=value/],
  ])('rejects %s=%s naming the variable', (name, value, reason) => {
    const err = errorOf(() => compileAgentCliConfig({ AGENT_ID: 'A1', [name]: value }));
    expect(err.variable).toBe(name);
    expect(err.message).toMatch(reason);
  });

  it('rejects a cap below the initial backoff', () => {
    expect(errorOf(() => loadAgentCliConfig({ INITIAL_BACKOFF: '5', MAX_BACKOFF: '1' }, [])).variable).toBe('MAX_BACKOFF');
  });
});
