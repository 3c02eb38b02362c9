import { readFileSync } from 'node:fs';
import { ConfigError } from '../shared/config-error';
import { ConfigReader, mergeFlags, type RawConfig } from '../shared/config-reader';
import { LOG_LEVELS, type LogLevel } from '../shared/logger';
import { readPem } from '../shared/tls-files';
import { compileAgentOptions, type AgentOptions, type CompiledAgentOptions } from './agent-options';
import { AGENT_SETTINGS as S, AGENT_VARIABLES } from './settings';

/** Every variable the agent CLI reads (each also a `--kebab-case` flag). */
export { AGENT_VARIABLES };

/** The agent CLI's configuration: one agent's options plus how many to run. */
export interface AgentCliConfig {
  readonly agent: CompiledAgentOptions;
  /** Agents in this process (swarm mode when > 1: ids `<AGENT_ID>-1..N`). @default 1 */
  readonly agentCount: number;
  readonly logLevel: LogLevel;
  /** File that gets one JSON line per command run ({agent, command_id, attempt, type, t}); empty = none. */
  readonly executionLog: string;
}

/** Compiles raw values; throws ConfigError naming the bad variable. */
export function compileAgentCliConfig(raw: RawConfig): AgentCliConfig {
  const r = new ConfigReader(raw);
  const agentId = r.string('AGENT_ID', '') || undefined;
  const options = {
    agentId,
    agentType: r.string('AGENT_TYPE', S.AGENT_TYPE.default, { maxLength: 256 }),
    displayName: r.string('DISPLAY_NAME', '', { maxLength: 256 }) || undefined,
    orchestrator: r.string('ORCHESTRATOR_HOST', S.ORCHESTRATOR_HOST.default),
    heartbeatIntervalMs: r.secondsAsMs('HEARTBEAT_INTERVAL', S.HEARTBEAT_INTERVAL.default, 0.05, 3600),
    maxRetries: r.int('MAX_RETRIES', S.MAX_RETRIES.default, 0, 1_000_000),
    initialBackoffMs: r.secondsAsMs('INITIAL_BACKOFF', S.INITIAL_BACKOFF.default, 0.001, 3600),
    maxBackoffMs: r.secondsAsMs('MAX_BACKOFF', S.MAX_BACKOFF.default, 0.001, 86400),
    capabilities: r.list('CAPABILITIES', S.CAPABILITIES.default),
    labels: r.labels('AGENT_LABELS'),
    maxConcurrency: r.int('MAX_CONCURRENCY', S.MAX_CONCURRENCY.default, 1, 10000),
    keepaliveTimeMs: r.int('KEEPALIVE_TIME_MS', S.KEEPALIVE_TIME_MS.default, 100, 7200000),
    keepaliveTimeoutMs: r.int('KEEPALIVE_TIMEOUT_MS', S.KEEPALIVE_TIMEOUT_MS.default, 100, 600000),
    maxMessageBytes: r.int('MAX_MESSAGE_BYTES', S.MAX_MESSAGE_BYTES.default, 1024, 64 * 1024 * 1024),
    resultCacheSize: r.int('RESULT_CACHE_SIZE', S.RESULT_CACHE_SIZE.default, 1, 1_000_000),
    reconnectHints: r.bool('RECONNECT_HINTS', S.RECONNECT_HINTS.default === 'true'),
    tls: readAgentTls(r),
    authToken: readAuthToken(r),
  };
  if (options.maxBackoffMs < options.initialBackoffMs) throw new ConfigError('MAX_BACKOFF', 'must be at least INITIAL_BACKOFF');
  let agent: CompiledAgentOptions;
  try {
    agent = compileAgentOptions(options);
  } catch (err) {
    // The only option checked there and not above is the id's shape.
    throw new ConfigError('AGENT_ID', (err as Error).message.replace(/^agentId: /, ''));
  }
  return Object.freeze({
    agent,
    agentCount: r.int('AGENT_COUNT', S.AGENT_COUNT.default, 1, 100000),
    logLevel: r.oneOf('LOG_LEVEL', S.LOG_LEVEL.default, LOG_LEVELS),
    executionLog: r.string('EXECUTION_LOG', S.EXECUTION_LOG.default),
  });
}

function readAgentTls(r: ConfigReader): AgentOptions['tls'] {
  const [ca, cert, key, serverName] = (['TLS_CA', 'TLS_CERT', 'TLS_KEY', 'TLS_SERVER_NAME'] as const).map((v) => r.string(v, S[v].default));
  if (!ca && !cert && !key) {
    if (serverName) throw new ConfigError('TLS_SERVER_NAME', 'only applies with TLS (set TLS_CA, or TLS_CERT and TLS_KEY)');
    return undefined;
  }
  if (Boolean(cert) !== Boolean(key)) throw new ConfigError(cert ? 'TLS_KEY' : 'TLS_CERT', 'TLS_CERT and TLS_KEY go together');
  return {
    ca: ca ? readPem('TLS_CA', ca) : undefined,
    cert: cert ? readPem('TLS_CERT', cert) : undefined,
    key: key ? readPem('TLS_KEY', key) : undefined,
    serverName: serverName || undefined,
  };
}

/** The token in AUTH_TOKEN_FILE (surrounding whitespace dropped); the error never shows it. */
function readAuthToken(r: ConfigReader): string | undefined {
  const path = r.string('AUTH_TOKEN_FILE', S.AUTH_TOKEN_FILE.default);
  if (!path) return undefined;
  let token: string;
  try {
    token = readFileSync(path, 'utf8').trim();
  } catch (err) {
    throw new ConfigError('AUTH_TOKEN_FILE', `cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  if (!/^[\x21-\x7e]{1,4096}$/.test(token)) throw new ConfigError('AUTH_TOKEN_FILE', `${path} must hold one token: 1..4096 printable characters without spaces`);
  return token;
}

/** Reads the process environment and flags. */
export function loadAgentCliConfig(env: NodeJS.ProcessEnv, argv: readonly string[]): AgentCliConfig {
  return compileAgentCliConfig(mergeFlags(env, argv, AGENT_VARIABLES));
}
