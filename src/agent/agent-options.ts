import { hostname } from 'node:os';
import { agentIdProblem } from '../shared/agent-id';
import { NEXUS_VERSION } from '../shared/version';
import { AGENT_SETTINGS as S } from './settings';

/** Options of `new Agent(options)`; everything but `agentId` has a default. */
export interface AgentOptions {
  /** Unique id of this agent in the fleet. @default hostname */
  agentId?: string;
  /** Any gRPC target: `host:port`, `dns:///svc:50051`, `ipv4:127.0.0.1:1,127.0.0.1:2`. @default localhost:50051 */
  orchestrator?: string;
  /** @default generic */
  agentType?: string;
  /** @default agentId */
  displayName?: string;
  /** @default ['scan','report','analyze','execute'] */
  capabilities?: string[];
  /** @default {} */
  labels?: Record<string, string>;
  /** Commands run at once. @default 4 */
  maxConcurrency?: number;
  /** @default 10000 ms (the orchestrator may ask for less) */
  heartbeatIntervalMs?: number;
  /** First backoff window. @default 1000 ms */
  initialBackoffMs?: number;
  /** Largest backoff window. @default 60000 ms */
  maxBackoffMs?: number;
  /** Consecutive failed attempts before giving up; 0 = forever. @default 0 */
  maxRetries?: number;
  /** Keepalive ping interval. @default 20000 ms */
  keepaliveTimeMs?: number;
  /** Keepalive ping answer deadline. @default 10000 ms */
  keepaliveTimeoutMs?: number;
  /** Largest gRPC message each way. @default 1 MiB */
  maxMessageBytes?: number;
  /** Results remembered for redelivered command ids. @default 1000 */
  resultCacheSize?: number;
  /** Register `echo`, `sleep` and `sysinfo`. @default true */
  builtins?: boolean;
  /** Follow a drain's `reconnect_to` (a lighter replica) for the next attempt. @default true */
  reconnectHints?: boolean;
  /**
   * TLS to the orchestrator: `ca` to verify it (system CAs when absent), `cert`/`key` for mutual
   * TLS (the certificate names this agent: SAN URI spiffe://nexus/agent/<id> or CN), `serverName`
   * when the target's host name differs from the certificate's. @default undefined (plaintext)
   */
  tls?: { ca?: Buffer; cert?: Buffer; key?: Buffer; serverName?: string } | undefined;
  /**
   * Bearer token sent as `authorization: Bearer <token>` on Pulse, for orchestrators that check
   * tokens (AUTH_TOKENS_FILE; its line for this agent is `agent <agentId> <sha256>`). Never
   * logged. @default undefined (none)
   */
  authToken?: string | undefined;
}

/** AgentOptions with defaults applied and checked; durations in ms. */
export type CompiledAgentOptions = Readonly<Required<Omit<AgentOptions, 'tls' | 'authToken'>> & Pick<AgentOptions, 'tls' | 'authToken'>>;

function positive(name: string, value: number, max: number, min = 1): number {
  if (!Number.isInteger(value) || value < min || value > max) throw new TypeError(`${name} must be an integer in ${min}..${max}, got ${value}`);
  return value;
}

/** Applies defaults (those of AGENT_SETTINGS, in ms) and validates; throws TypeError naming the bad option. */
export function compileAgentOptions(options: AgentOptions): CompiledAgentOptions {
  const agentId = options.agentId ?? hostname();
  const problem = agentIdProblem(agentId);
  if (problem) throw new TypeError(`agentId: ${problem}`);
  const compiled: CompiledAgentOptions = {
    agentId,
    orchestrator: options.orchestrator ?? S.ORCHESTRATOR_HOST.default,
    agentType: options.agentType ?? S.AGENT_TYPE.default,
    displayName: options.displayName ?? agentId,
    capabilities: options.capabilities ?? [...S.CAPABILITIES.default],
    labels: options.labels ?? {},
    maxConcurrency: positive('maxConcurrency', options.maxConcurrency ?? S.MAX_CONCURRENCY.default, 10000),
    heartbeatIntervalMs: positive('heartbeatIntervalMs', options.heartbeatIntervalMs ?? S.HEARTBEAT_INTERVAL.default * 1000, 3600000, 50),
    initialBackoffMs: positive('initialBackoffMs', options.initialBackoffMs ?? S.INITIAL_BACKOFF.default * 1000, 3600000),
    maxBackoffMs: positive('maxBackoffMs', options.maxBackoffMs ?? S.MAX_BACKOFF.default * 1000, 86400000),
    maxRetries: positive('maxRetries', options.maxRetries ?? S.MAX_RETRIES.default, 1_000_000, 0),
    keepaliveTimeMs: positive('keepaliveTimeMs', options.keepaliveTimeMs ?? S.KEEPALIVE_TIME_MS.default, 7200000, 100),
    keepaliveTimeoutMs: positive('keepaliveTimeoutMs', options.keepaliveTimeoutMs ?? S.KEEPALIVE_TIMEOUT_MS.default, 600000, 100),
    maxMessageBytes: positive('maxMessageBytes', options.maxMessageBytes ?? S.MAX_MESSAGE_BYTES.default, 64 * 1024 * 1024, 1024),
    resultCacheSize: positive('resultCacheSize', options.resultCacheSize ?? S.RESULT_CACHE_SIZE.default, 1_000_000),
    builtins: options.builtins ?? true,
    reconnectHints: options.reconnectHints ?? true,
    tls: options.tls,
    authToken: options.authToken,
  };
  if (compiled.tls && (compiled.tls.cert === undefined) !== (compiled.tls.key === undefined)) {
    throw new TypeError('tls.cert and tls.key go together');
  }
  // A token goes into an HTTP/2 header: printable, no spaces (the value itself is never shown).
  if (compiled.authToken !== undefined && !/^[\x21-\x7e]{1,4096}$/.test(compiled.authToken)) throw new TypeError('authToken must be 1..4096 printable characters without spaces');
  if (compiled.maxBackoffMs < compiled.initialBackoffMs) throw new TypeError('maxBackoffMs must be at least initialBackoffMs');
  if (!compiled.orchestrator.trim()) throw new TypeError('orchestrator must be a gRPC target');
  return Object.freeze(compiled);
}

/** The version agents report in hello. */
export const AGENT_VERSION = NEXUS_VERSION;
