import { hostname } from 'node:os';
import { describe, expect, it } from 'vitest';
import { compileAgentOptions } from '../../src/agent/agent-options';
import { AGENT_VARIABLES, compileAgentCliConfig, loadAgentCliConfig } from '../../src/agent/config';
import { AGENT_SETTINGS } from '../../src/agent/settings';
import { compileOrchestratorConfig, loadOrchestratorConfig, ORCHESTRATOR_VARIABLES } from '../../src/orchestrator/config';
import { ORCHESTRATOR_SETTINGS } from '../../src/orchestrator/settings';
import { ConfigError } from '../../src/shared/config-error';
import { toFlag } from '../../src/shared/config-reader';
import type { SettingsTable } from '../../src/shared/settings';

function errorOf(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

/** Every setting with a plain default, as the flags that set it to that default. */
function defaultsAsFlags(table: SettingsTable): string[] {
  return Object.entries(table)
    .filter(([, s]) => s.default !== undefined)
    .map(([name, s]) => `${toFlag(name)}=${Array.isArray(s.default) ? s.default.join(',') : String(s.default)}`);
}

/** Settings whose default is a number (read as an integer or as seconds). */
function numericSettings(table: SettingsTable): string[] {
  return Object.keys(table).filter((name) => typeof table[name].default === 'number');
}

const escapeRegExp = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

describe('orchestrator configuration', () => {
  it('has the documented defaults', () => {
    const c = compileOrchestratorConfig({});
    expect(c).toMatchObject({
      grpcPort: 50051,
      redisUrl: 'redis://localhost:6379/0',
      metricsPort: 9090,
      consolePort: 8080,
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

  it('keeps every default it had, field by field', () => {
    const c = compileOrchestratorConfig({ REPLICA_ID: 'r1' });
    expect(c).toEqual({
      grpcHost: '0.0.0.0', grpcPort: 50051, redisUrl: 'redis://localhost:6379/0', keyPrefix: 'nexus', metricsPort: 9090, consolePort: 8080,
      replicaId: 'r1', advertiseAddress: `${hostname()}:50051`,
      stalenessThresholdMs: 60_000, stalenessCheckIntervalMs: 30_000, offlineThresholdMs: 120_000, agentRetentionMs: 86_400_000,
      replicaBeatIntervalMs: 5000, heartbeatFlushMs: 1000, helloTimeoutMs: 5000, maxMessageBytes: 1_048_576, maxConcurrentStreams: 16,
      keepaliveTimeMs: 20_000, keepaliveTimeoutMs: 10_000, drainWindowMs: 10_000, shutdownGraceMs: 25_000,
      readinessProbeIntervalMs: 1000, readinessProbeTimeoutMs: 1000, redisCommandTimeoutMs: 5000, eventsMaxLen: 100_000, logLevel: 'info',
      maxPayloadBytes: 262_144, defaultMaxAttempts: 3, defaultCommandTtlMs: 3_600_000, maxCommandTtlMs: 604_800_000, commandRetentionMs: 86_400_000, commandLogMaxLines: 1000,
      dlqMaxLen: 10_000, dlqPayloadBytes: 4096, mailboxMax: 10_000, deliveryWindowMax: 32, retryBaseMs: 1000, retryMaxMs: 60_000,
      ingressBatch: 100, ingressBlockMs: 2000, ingressTargetLen: 10_000, claimMinIdleMs: 30_000, claimSweepMs: 5000, poisonDeliveries: 5,
      maintenanceIntervalMs: 1000, wakePollMs: 1000, consumerRetireIdleMs: 3_600_000, redisLossDrainMs: 10_000,
      agentReconnectLimit: 30, agentReconnectWindowMs: 60_000, sessionAdmissionRate: 1000, maxWatchers: 100, maxFanout: 10_000, fanoutPollMs: 100,
      rebalanceRate: 50, rebalanceTolerancePct: 10, rebalanceSettleMs: 60_000, maxSessionAgeMs: 0,
      failoverGraceMs: 30_000, dampenSilentShare: 0.3, dampenMinAgents: 10, dampenMaxMs: 300_000,
      tls: undefined, redisTlsCa: undefined,
    });
  });

  it('uses the settings table\'s defaults: setting every variable to its documented default changes nothing', () => {
    const flags = defaultsAsFlags(ORCHESTRATOR_SETTINGS);
    expect(flags.length).toBe(ORCHESTRATOR_VARIABLES.length - 3); // REPLICA_ID, ADVERTISE_ADDRESS, OFFLINE_THRESHOLD_SEC are computed
    expect(loadOrchestratorConfig({ REPLICA_ID: 'r1' }, flags)).toEqual(compileOrchestratorConfig({ REPLICA_ID: 'r1' }));
  });

  it('accepts exactly the variables of the settings table', () => {
    expect(ORCHESTRATOR_VARIABLES).toEqual(Object.keys(ORCHESTRATOR_SETTINGS));
    expect(new Set(ORCHESTRATOR_VARIABLES).size).toBe(ORCHESTRATOR_VARIABLES.length);
  });

  it('reads DAMPEN_SILENT_SHARE as a share from 0 (off) up to, not including, 1', () => {
    expect(compileOrchestratorConfig({ DAMPEN_SILENT_SHARE: '0.5' }).dampenSilentShare).toBe(0.5);
    expect(compileOrchestratorConfig({ DAMPEN_SILENT_SHARE: '0' }).dampenSilentShare).toBe(0);
    for (const bad of ['1', '1.5', '-0.1', '30%']) expect(errorOf(() => compileOrchestratorConfig({ DAMPEN_SILENT_SHARE: bad })).variable).toBe('DAMPEN_SILENT_SHARE');
  });

  it('computes the documented derived defaults', () => {
    expect(compileOrchestratorConfig({}).offlineThresholdMs).toBe(120_000);
    expect(compileOrchestratorConfig({ STALENESS_THRESHOLD_SEC: '45' }).offlineThresholdMs).toBe(90_000);
    expect(compileOrchestratorConfig({ STALENESS_THRESHOLD_SEC: '0.5' }).offlineThresholdMs).toBe(1000);
    expect(compileOrchestratorConfig({}).replicaId).toMatch(new RegExp(`^${escapeRegExp(hostname())}-[0-9a-f]{6}$`));
    expect(compileOrchestratorConfig({}).advertiseAddress).toBe(`${hostname()}:50051`);
    expect(compileOrchestratorConfig({ GRPC_PORT: '7000' }).advertiseAddress).toBe(`${hostname()}:7000`);
    expect(compileOrchestratorConfig({ ADVERTISE_ADDRESS: 'nexus-0.nexus:50051' }).advertiseAddress).toBe('nexus-0.nexus:50051');
  });

  it.each(numericSettings(ORCHESTRATOR_SETTINGS))('rejects a non-number %s, naming it', (name) => {
    const err = errorOf(() => compileOrchestratorConfig({ [name]: 'x' }));
    expect(err.variable).toBe(name);
    expect(err.message).toMatch(new RegExp(`^${name}: "x" is not (an integer|a number of seconds|a share \\(.*\\))$`));
  });

  it.each([
    ['GRPC_PORT', 'fifty', 'GRPC_PORT: "fifty" is not an integer'],
    ['GRPC_PORT', '1.5', 'GRPC_PORT: "1.5" is not an integer'],
    ['GRPC_PORT', '65536', 'GRPC_PORT: 65536 is outside 0..65535'],
    ['MAX_MESSAGE_BYTES', '1023', 'MAX_MESSAGE_BYTES: 1023 is outside 1024..67108864'],
    ['STALENESS_THRESHOLD_SEC', '0.01', 'STALENESS_THRESHOLD_SEC: 0.01 is outside 0.1..86400 seconds'],
    ['AGENT_RETENTION_SEC', '1e3', 'AGENT_RETENTION_SEC: "1e3" is not a number of seconds'],
    ['LOG_LEVEL', 'verbose', 'LOG_LEVEL: "verbose" is not one of fatal, error, warn, info, debug, trace, silent'],
    ['REDIS_URL', 'http://x', 'REDIS_URL: protocol must be one of redis:, rediss:'],
    ['REDIS_URL', 'localhost:6379', 'REDIS_URL: protocol must be one of redis:, rediss:'],
    ['REDIS_URL', '::', 'REDIS_URL: is not a valid URL'],
    ['REDIS_KEY_PREFIX', 'has space', 'REDIS_KEY_PREFIX: "has space" does not match /^[A-Za-z0-9{}_.:-]+$/'],
    ['REPLICA_ID', 'r'.repeat(129), 'REPLICA_ID: must be at most 128 characters'],
    ['MAX_SESSION_AGE_MS', '5000', 'MAX_SESSION_AGE_MS: must be 0 (no limit) or at least 10000 (agents would do little but reconnect)'],
    ['REBALANCE_RATE', '-1', 'REBALANCE_RATE: -1 is outside 0..100000'],
  ])('rejects %s=%s with the exact message', (name, value, message) => {
    const err = errorOf(() => compileOrchestratorConfig({ [name]: value }));
    expect(err.variable).toBe(name);
    expect(err.message).toBe(message);
  });

  it.each([
    [{ STALENESS_THRESHOLD_SEC: '10', OFFLINE_THRESHOLD_SEC: '10' }, 'OFFLINE_THRESHOLD_SEC: must be greater than STALENESS_THRESHOLD_SEC'],
    [{ DEFAULT_COMMAND_TTL_MS: '2000', MAX_COMMAND_TTL_MS: '1000' }, 'DEFAULT_COMMAND_TTL_MS: must not exceed MAX_COMMAND_TTL_MS'],
    [{ DRAIN_WINDOW_MS: '25000' }, 'DRAIN_WINDOW_MS: must be less than SHUTDOWN_GRACE_MS (agents need time to leave)'],
    [{ TLS_CA: 'ca.pem' }, 'TLS_CA: needs TLS_CERT and TLS_KEY (mutual TLS is TLS plus client certificates)'],
    [{ TLS_KEY: 'key.pem' }, 'TLS_CERT: is required when TLS_KEY is set'],
    [{ TLS_CERT: 'cert.pem' }, 'TLS_KEY: is required when TLS_CERT is set'],
  ])('checks settings against each other: %o', (raw, message) => {
    expect(errorOf(() => compileOrchestratorConfig(raw)).message).toBe(message);
  });

  it('names an unknown flag, a flag without a value and a stray argument', () => {
    const unknown = errorOf(() => loadOrchestratorConfig({}, ['--grpc-prot=1']));
    expect(unknown.variable).toBe('--grpc-prot');
    expect(unknown.message).toBe(`--grpc-prot: unknown flag; known: ${ORCHESTRATOR_VARIABLES.map(toFlag).join(' ')}`);
    expect(errorOf(() => loadOrchestratorConfig({}, ['--log-level'])).message).toBe('--log-level: missing value');
    expect(errorOf(() => loadOrchestratorConfig({}, ['50051'])).message).toBe('50051: unexpected argument (flags look like --name=value)');
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
    ['RECONNECT_HINTS', 'maybe', /not a boolean/],
  ])('rejects %s=%s naming the variable', (name, value, reason) => {
    const err = errorOf(() => compileAgentCliConfig({ AGENT_ID: 'A1', [name]: value }));
    expect(err.variable).toBe(name);
    expect(err.message).toMatch(reason);
  });

  it('rejects a cap below the initial backoff', () => {
    expect(errorOf(() => loadAgentCliConfig({ INITIAL_BACKOFF: '5', MAX_BACKOFF: '1' }, [])).variable).toBe('MAX_BACKOFF');
  });

  it('keeps every default it had, field by field', () => {
    expect(compileAgentCliConfig({ AGENT_ID: 'A1' })).toEqual({
      agent: {
        agentId: 'A1', orchestrator: 'localhost:50051', agentType: 'generic', displayName: 'A1',
        capabilities: ['scan', 'report', 'analyze', 'execute'], labels: {}, maxConcurrency: 4, heartbeatIntervalMs: 10_000,
        initialBackoffMs: 1000, maxBackoffMs: 60_000, maxRetries: 0, keepaliveTimeMs: 20_000, keepaliveTimeoutMs: 10_000,
        maxMessageBytes: 1_048_576, resultCacheSize: 1000, builtins: true, reconnectHints: true, tls: undefined,
      },
      agentCount: 1,
      logLevel: 'info',
      executionLog: '',
    });
  });

  it('uses the settings table\'s defaults: setting every variable to its documented default changes nothing', () => {
    const flags = defaultsAsFlags(AGENT_SETTINGS).filter((f) => !f.endsWith('=')); // '' = unset, which a flag cannot say
    expect(loadAgentCliConfig({ AGENT_ID: 'A1' }, flags)).toEqual(compileAgentCliConfig({ AGENT_ID: 'A1' }));
    expect(AGENT_VARIABLES).toEqual(Object.keys(AGENT_SETTINGS));
  });

  it('gives the library the same defaults as the command line', () => {
    expect(compileAgentOptions({ agentId: 'A1' })).toEqual(compileAgentCliConfig({ AGENT_ID: 'A1' }).agent);
  });

  it('computes the documented derived defaults', () => {
    expect(compileAgentCliConfig({}).agent.agentId).toBe(hostname());
    expect(compileAgentCliConfig({}).agent.displayName).toBe(hostname());
    expect(compileAgentCliConfig({ AGENT_ID: 'A1', DISPLAY_NAME: 'Scanner' }).agent.displayName).toBe('Scanner');
  });

  it.each(numericSettings(AGENT_SETTINGS))('rejects a non-number %s, naming it', (name) => {
    const err = errorOf(() => compileAgentCliConfig({ AGENT_ID: 'A1', [name]: 'x' }));
    expect(err.variable).toBe(name);
    expect(err.message).toMatch(new RegExp(`^${name}: "x" is not (an integer|a number of seconds)$`));
  });

  it.each([
    [{ MAX_CONCURRENCY: '0' }, 'MAX_CONCURRENCY: 0 is outside 1..10000'],
    [{ HEARTBEAT_INTERVAL: '0.01' }, 'HEARTBEAT_INTERVAL: 0.01 is outside 0.05..3600 seconds'],
    [{ LOG_LEVEL: 'loud' }, 'LOG_LEVEL: "loud" is not one of fatal, error, warn, info, debug, trace, silent'],
    [{ AGENT_ID: 'a'.repeat(129) }, 'AGENT_ID: agent_id is longer than 128 characters'],
    [{ AGENT_TYPE: 't'.repeat(257) }, 'AGENT_TYPE: must be at most 256 characters'],
    [{ INITIAL_BACKOFF: '5', MAX_BACKOFF: '1' }, 'MAX_BACKOFF: must be at least INITIAL_BACKOFF'],
    [{ TLS_SERVER_NAME: 'nexus' }, 'TLS_SERVER_NAME: only applies with TLS (set TLS_CA, or TLS_CERT and TLS_KEY)'],
    [{ TLS_CERT: 'cert.pem' }, 'TLS_KEY: TLS_CERT and TLS_KEY go together'],
    [{ TLS_KEY: 'key.pem' }, 'TLS_CERT: TLS_CERT and TLS_KEY go together'],
  ])('rejects %o with the exact message', (raw, message) => {
    expect(errorOf(() => compileAgentCliConfig({ AGENT_ID: 'A1', ...raw })).message).toBe(message);
  });

  it('names an unknown flag', () => {
    const err = errorOf(() => loadAgentCliConfig({}, ['--agent-idd', 'x']));
    expect(err.variable).toBe('--agent-idd');
    expect(err.message).toBe(`--agent-idd: unknown flag; known: ${AGENT_VARIABLES.map(toFlag).join(' ')}`);
  });
});
