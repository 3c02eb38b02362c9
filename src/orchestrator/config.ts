import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { ConfigError } from '../shared/config-error';
import { ConfigReader, mergeFlags, type RawConfig } from '../shared/config-reader';
import { LOG_LEVELS, type LogLevel } from '../shared/logger';
import { readPem } from '../shared/tls-files';
import { loadTokensFile, type TokenEntry } from './auth/tokens-file';
import { ORCHESTRATOR_SETTINGS as S, ORCHESTRATOR_VARIABLES } from './settings';

/** Every variable the orchestrator reads (each also a `--kebab-case` flag). */
export { ORCHESTRATOR_VARIABLES };

/**
 * The orchestrator's configuration, compiled and validated once at start. Durations in ms.
 * Each field names the variable it comes from; defaults and meanings are in ORCHESTRATOR_SETTINGS.
 */
export interface OrchestratorConfig {
  /** `GRPC_HOST`: Address the gRPC server binds. */
  readonly grpcHost: string;
  /** `GRPC_PORT`: gRPC port; 0 picks a free one. */
  readonly grpcPort: number;
  /** `REDIS_URL`: Redis URL (redis:// or rediss://). */
  readonly redisUrl: string;
  /** `REDIS_KEY_PREFIX`: Prefix of every Redis key. */
  readonly keyPrefix: string;
  /** `METRICS_PORT`: Prometheus port; 0 turns the endpoint off. */
  readonly metricsPort: number;
  /** `CONSOLE_PORT`: Web console port; 0 turns the console off. */
  readonly consolePort: number;
  /** `REPLICA_ID`: Unique per process. */
  readonly replicaId: string;
  /** `ADVERTISE_ADDRESS`: Address other tools should use to reach this replica (shown in status). */
  readonly advertiseAddress: string;
  /** `STALENESS_THRESHOLD_SEC`: No pulse for this long -> stale. */
  readonly stalenessThresholdMs: number;
  /** `STALENESS_CHECK_INTERVAL`: How often staleness is checked. */
  readonly stalenessCheckIntervalMs: number;
  /** `OFFLINE_THRESHOLD_SEC`: No pulse for this long -> offline, and the local session is closed. */
  readonly offlineThresholdMs: number;
  /** `AGENT_RETENTION_SEC`: Offline agents are forgotten after this long. */
  readonly agentRetentionMs: number;
  /** `REPLICA_BEAT_INTERVAL_MS`: How often the replica records itself as alive; it is dead after 3 missed beats. */
  readonly replicaBeatIntervalMs: number;
  /** `HEARTBEAT_FLUSH_MS`: Heartbeats are coalesced and written to Redis this often. */
  readonly heartbeatFlushMs: number;
  /** `HELLO_TIMEOUT_MS`: A Pulse must say hello within this time. */
  readonly helloTimeoutMs: number;
  /** `MAX_MESSAGE_BYTES`: Largest gRPC message, each way. */
  readonly maxMessageBytes: number;
  /** `MAX_CONCURRENT_STREAMS`: HTTP/2 streams per connection. */
  readonly maxConcurrentStreams: number;
  /** `KEEPALIVE_TIME_MS`: Server keepalive ping interval. */
  readonly keepaliveTimeMs: number;
  /** `KEEPALIVE_TIMEOUT_MS`: Keepalive ping answer deadline. */
  readonly keepaliveTimeoutMs: number;
  /** `DRAIN_WINDOW_MS`: Drained agents reconnect after a delay drawn from [0, this). */
  readonly drainWindowMs: number;
  /** `SHUTDOWN_GRACE_MS`: SIGTERM to exit, at most. */
  readonly shutdownGraceMs: number;
  /** `READINESS_PROBE_INTERVAL_MS`: Readiness PING interval. */
  readonly readinessProbeIntervalMs: number;
  /** `READINESS_PROBE_TIMEOUT_MS`: Readiness PING timeout. */
  readonly readinessProbeTimeoutMs: number;
  /** `REDIS_COMMAND_TIMEOUT_MS`: Timeout of ordinary Redis commands. */
  readonly redisCommandTimeoutMs: number;
  /** `EVENTS_MAXLEN`: Approximate cap of the events stream. */
  readonly eventsMaxLen: number;
  /** `LOG_LEVEL` */
  readonly logLevel: LogLevel;
  /** `MAX_PAYLOAD_BYTES`: Largest command payload accepted from the ingress. */
  readonly maxPayloadBytes: number;
  /** `DEFAULT_MAX_ATTEMPTS`: Runs of a failing command before it is dead-lettered `failed`. */
  readonly defaultMaxAttempts: number;
  /** `DEFAULT_COMMAND_TTL_MS`: A command not delivered within this is dead-lettered `expired`. */
  readonly defaultCommandTtlMs: number;
  /** `MAX_COMMAND_TTL_MS`: Largest `ttl_ms` accepted. */
  readonly maxCommandTtlMs: number;
  /** `COMMAND_RETENTION_MS`: Finished command records (and dedupe of their ids) are kept this long. */
  readonly commandRetentionMs: number;
  /** `COMMAND_LOG_MAX_LINES`: Entries kept in each command's progress and log stream (exact cap). */
  readonly commandLogMaxLines: number;
  /** `DLQ_MAXLEN`: Approximate cap of the dead-letter stream. */
  readonly dlqMaxLen: number;
  /** `DLQ_PAYLOAD_BYTES`: Bytes of a payload kept in a dead letter. */
  readonly dlqPayloadBytes: number;
  /** `MAILBOX_MAX`: Commands waiting per agent; more are dead-lettered `mailbox_full`. */
  readonly mailboxMax: number;
  /** `DELIVERY_WINDOW_MAX`: Most commands in flight per session (the agent's max_concurrency, capped here). */
  readonly deliveryWindowMax: number;
  /** `RETRY_BASE_MS`: First retry delay after a failure, doubling per attempt. */
  readonly retryBaseMs: number;
  /** `RETRY_MAX_MS`: Longest retry delay. */
  readonly retryMaxMs: number;
  /** `INGRESS_BATCH`: Entries per ingress read. */
  readonly ingressBatch: number;
  /** `INGRESS_BLOCK_MS`: Ingress read blocks this long at most. */
  readonly ingressBlockMs: number;
  /** `INGRESS_TARGET_LEN`: The ingress is trimmed (only below what the group handled) when longer than this. */
  readonly ingressTargetLen: number;
  /** `CLAIM_MIN_IDLE_MS`: Entries pending this long on any consumer are reclaimed. */
  readonly claimMinIdleMs: number;
  /** `CLAIM_SWEEP_MS`: How often idle entries are looked for. */
  readonly claimSweepMs: number;
  /** `POISON_DELIVERIES`: Deliveries after which an entry is dead-lettered `poison`. */
  readonly poisonDeliveries: number;
  /** `MAINTENANCE_INTERVAL_MS`: Expiry, trimming and stream gauges run this often. */
  readonly maintenanceIntervalMs: number;
  /** `WAKE_POLL_MS`: This replica's wake set is polled this often (the doorbell's durable half). */
  readonly wakePollMs: number;
  /** `CONSUMER_RETIRE_IDLE_MS`: Consumers of the group with nothing pending and idle this long are deleted. */
  readonly consumerRetireIdleMs: number;
  /** `REDIS_LOSS_DRAIN_MS`: Redis unreachable this long: tell this replica's agents to move to a healthy replica. */
  readonly redisLossDrainMs: number;
  /** `AGENT_RECONNECT_LIMIT`: Sessions one agent id may start per window, cluster-wide; more get RESOURCE_EXHAUSTED. */
  readonly agentReconnectLimit: number;
  /** `AGENT_RECONNECT_WINDOW_MS` */
  readonly agentReconnectWindowMs: number;
  /** `SESSION_ADMISSION_RATE`: New sessions this replica admits per second (token bucket, burst = rate). */
  readonly sessionAdmissionRate: number;
  /** `MAX_WATCHERS`: Open WatchCommand and WatchEvents streams per replica, both kinds together. */
  readonly maxWatchers: number;
  /** `MAX_FANOUT`: Most agents one `pick all` command may reach. */
  readonly maxFanout: number;
  /** `FANOUT_POLL_MS`: How often due fan-out work and waiting `pick any` commands are looked for. */
  readonly fanoutPollMs: number;
  /** `REBALANCE_RATE`: Agents moved per second at most by a replica over its share; 0 = off. */
  readonly rebalanceRate: number;
  /** `REBALANCE_TOLERANCE_PCT`: How far from the fair share (either way), in percent of it, a replica may be before agents move. */
  readonly rebalanceTolerancePct: number;
  /** `REBALANCE_SETTLE_MS`: Sessions younger than this are never moved. */
  readonly rebalanceSettleMs: number;
  /** `MAX_SESSION_AGE_MS`: Sessions older than this (jittered) are told to reconnect; 0 = no limit. */
  readonly maxSessionAgeMs: number;
  /** `FAILOVER_GRACE_MS`: Agents concerned by a sweep gap, a reaped replica or a Redis return are not marked stale this long; 0 = off. */
  readonly failoverGraceMs: number;
  /** `DAMPEN_SILENT_SHARE`: More than this share of this replica's agents silent at once holds their transitions; 0 = off. */
  readonly dampenSilentShare: number;
  /** `DAMPEN_MIN_AGENTS`: Mass silence needs at least this many silent agents. */
  readonly dampenMinAgents: number;
  /** `DAMPEN_MAX_MS`: Longest mass-silence hold. */
  readonly dampenMaxMs: number;
  /**
   * gRPC TLS: certificate chain and key (PEM). With a CA too, clients must present a
   * certificate from it (mTLS) and a hello's agent_id must match the certificate's identity.
   * `TLS_CERT`, `TLS_KEY`, `TLS_CA`; undefined = plaintext, with a warning at start.
   */
  readonly tls: { cert: Buffer; key: Buffer; ca: Buffer | undefined } | undefined;
  /** `REDIS_TLS_CA`: CA (PEM) to verify a `rediss://` Redis with; the system CAs when unset. */
  readonly redisTlsCa: Buffer | undefined;
  /**
   * `AUTH_TOKENS_FILE`: the bearer tokens callers may present (hashes only), when there are no
   * client certificates; undefined = no tokens (open unless mTLS). docs/roles.md.
   */
  readonly authTokens: readonly TokenEntry[] | undefined;
}

/** Compiles raw values into a frozen config; throws ConfigError naming the bad variable. */
export function compileOrchestratorConfig(raw: RawConfig): OrchestratorConfig {
  const r = new ConfigReader(raw);
  const grpcPort = r.int('GRPC_PORT', S.GRPC_PORT.default, 0, 65535);
  const replicaId = r.string('REPLICA_ID', `${hostname()}-${randomBytes(3).toString('hex')}`, {
    maxLength: 128,
    pattern: /^[A-Za-z0-9][A-Za-z0-9._:-]*$/,
  });
  const redisTlsCa = r.string('REDIS_TLS_CA', S.REDIS_TLS_CA.default);
  const stalenessThresholdMs = r.secondsAsMs('STALENESS_THRESHOLD_SEC', S.STALENESS_THRESHOLD_SEC.default, 0.1, 86400);
  const config: OrchestratorConfig = {
    grpcHost: r.string('GRPC_HOST', S.GRPC_HOST.default),
    grpcPort,
    redisUrl: r.url('REDIS_URL', S.REDIS_URL.default, ['redis:', 'rediss:']),
    keyPrefix: r.string('REDIS_KEY_PREFIX', S.REDIS_KEY_PREFIX.default, { maxLength: 64, pattern: /^[A-Za-z0-9{}_.:-]+$/ }),
    metricsPort: r.int('METRICS_PORT', S.METRICS_PORT.default, 0, 65535),
    consolePort: r.int('CONSOLE_PORT', S.CONSOLE_PORT.default, 0, 65535),
    replicaId,
    advertiseAddress: r.string('ADVERTISE_ADDRESS', `${hostname()}:${grpcPort}`),
    stalenessThresholdMs,
    stalenessCheckIntervalMs: r.secondsAsMs('STALENESS_CHECK_INTERVAL', S.STALENESS_CHECK_INTERVAL.default, 0.05, 3600),
    offlineThresholdMs: r.secondsAsMs('OFFLINE_THRESHOLD_SEC', (2 * stalenessThresholdMs) / 1000, 0.1, 172800),
    agentRetentionMs: r.secondsAsMs('AGENT_RETENTION_SEC', S.AGENT_RETENTION_SEC.default, 1, 30 * 86400),
    replicaBeatIntervalMs: r.int('REPLICA_BEAT_INTERVAL_MS', S.REPLICA_BEAT_INTERVAL_MS.default, 50, 60000),
    heartbeatFlushMs: r.int('HEARTBEAT_FLUSH_MS', S.HEARTBEAT_FLUSH_MS.default, 10, 60000),
    helloTimeoutMs: r.int('HELLO_TIMEOUT_MS', S.HELLO_TIMEOUT_MS.default, 10, 60000),
    maxMessageBytes: r.int('MAX_MESSAGE_BYTES', S.MAX_MESSAGE_BYTES.default, 1024, 64 * 1024 * 1024),
    maxConcurrentStreams: r.int('MAX_CONCURRENT_STREAMS', S.MAX_CONCURRENT_STREAMS.default, 1, 1000),
    keepaliveTimeMs: r.int('KEEPALIVE_TIME_MS', S.KEEPALIVE_TIME_MS.default, 100, 7200000),
    keepaliveTimeoutMs: r.int('KEEPALIVE_TIMEOUT_MS', S.KEEPALIVE_TIMEOUT_MS.default, 100, 600000),
    drainWindowMs: r.int('DRAIN_WINDOW_MS', S.DRAIN_WINDOW_MS.default, 0, 600000),
    shutdownGraceMs: r.int('SHUTDOWN_GRACE_MS', S.SHUTDOWN_GRACE_MS.default, 100, 3600000),
    readinessProbeIntervalMs: r.int('READINESS_PROBE_INTERVAL_MS', S.READINESS_PROBE_INTERVAL_MS.default, 50, 60000),
    readinessProbeTimeoutMs: r.int('READINESS_PROBE_TIMEOUT_MS', S.READINESS_PROBE_TIMEOUT_MS.default, 50, 60000),
    redisCommandTimeoutMs: r.int('REDIS_COMMAND_TIMEOUT_MS', S.REDIS_COMMAND_TIMEOUT_MS.default, 100, 600000),
    eventsMaxLen: r.int('EVENTS_MAXLEN', S.EVENTS_MAXLEN.default, 100, 100_000_000),
    logLevel: r.oneOf('LOG_LEVEL', S.LOG_LEVEL.default, LOG_LEVELS),
    maxPayloadBytes: r.int('MAX_PAYLOAD_BYTES', S.MAX_PAYLOAD_BYTES.default, 0, 16 * 1024 * 1024),
    defaultMaxAttempts: r.int('DEFAULT_MAX_ATTEMPTS', S.DEFAULT_MAX_ATTEMPTS.default, 1, 100),
    defaultCommandTtlMs: r.int('DEFAULT_COMMAND_TTL_MS', S.DEFAULT_COMMAND_TTL_MS.default, 1, 30 * 86_400_000),
    maxCommandTtlMs: r.int('MAX_COMMAND_TTL_MS', S.MAX_COMMAND_TTL_MS.default, 1, 30 * 86_400_000),
    commandRetentionMs: r.int('COMMAND_RETENTION_MS', S.COMMAND_RETENTION_MS.default, 1000, 30 * 86_400_000),
    commandLogMaxLines: r.int('COMMAND_LOG_MAX_LINES', S.COMMAND_LOG_MAX_LINES.default, 10, 100_000),
    dlqMaxLen: r.int('DLQ_MAXLEN', S.DLQ_MAXLEN.default, 10, 10_000_000),
    dlqPayloadBytes: r.int('DLQ_PAYLOAD_BYTES', S.DLQ_PAYLOAD_BYTES.default, 0, 1024 * 1024),
    mailboxMax: r.int('MAILBOX_MAX', S.MAILBOX_MAX.default, 1, 10_000_000),
    deliveryWindowMax: r.int('DELIVERY_WINDOW_MAX', S.DELIVERY_WINDOW_MAX.default, 1, 10_000),
    retryBaseMs: r.int('RETRY_BASE_MS', S.RETRY_BASE_MS.default, 1, 3_600_000),
    retryMaxMs: r.int('RETRY_MAX_MS', S.RETRY_MAX_MS.default, 1, 86_400_000),
    ingressBatch: r.int('INGRESS_BATCH', S.INGRESS_BATCH.default, 1, 10_000),
    ingressBlockMs: r.int('INGRESS_BLOCK_MS', S.INGRESS_BLOCK_MS.default, 10, 60_000),
    ingressTargetLen: r.int('INGRESS_TARGET_LEN', S.INGRESS_TARGET_LEN.default, 100, 100_000_000),
    claimMinIdleMs: r.int('CLAIM_MIN_IDLE_MS', S.CLAIM_MIN_IDLE_MS.default, 10, 3_600_000),
    claimSweepMs: r.int('CLAIM_SWEEP_MS', S.CLAIM_SWEEP_MS.default, 10, 3_600_000),
    poisonDeliveries: r.int('POISON_DELIVERIES', S.POISON_DELIVERIES.default, 1, 1000),
    maintenanceIntervalMs: r.int('MAINTENANCE_INTERVAL_MS', S.MAINTENANCE_INTERVAL_MS.default, 10, 3_600_000),
    wakePollMs: r.int('WAKE_POLL_MS', S.WAKE_POLL_MS.default, 10, 60_000),
    consumerRetireIdleMs: r.int('CONSUMER_RETIRE_IDLE_MS', S.CONSUMER_RETIRE_IDLE_MS.default, 1000, 30 * 86_400_000),
    redisLossDrainMs: r.int('REDIS_LOSS_DRAIN_MS', S.REDIS_LOSS_DRAIN_MS.default, 100, 3_600_000),
    agentReconnectLimit: r.int('AGENT_RECONNECT_LIMIT', S.AGENT_RECONNECT_LIMIT.default, 1, 1_000_000),
    agentReconnectWindowMs: r.int('AGENT_RECONNECT_WINDOW_MS', S.AGENT_RECONNECT_WINDOW_MS.default, 100, 86_400_000),
    sessionAdmissionRate: r.int('SESSION_ADMISSION_RATE', S.SESSION_ADMISSION_RATE.default, 1, 1_000_000),
    maxWatchers: r.int('MAX_WATCHERS', S.MAX_WATCHERS.default, 1, 100_000),
    maxFanout: r.int('MAX_FANOUT', S.MAX_FANOUT.default, 1, 1_000_000),
    fanoutPollMs: r.int('FANOUT_POLL_MS', S.FANOUT_POLL_MS.default, 10, 60_000),
    rebalanceRate: r.int('REBALANCE_RATE', S.REBALANCE_RATE.default, 0, 100_000),
    rebalanceTolerancePct: r.int('REBALANCE_TOLERANCE_PCT', S.REBALANCE_TOLERANCE_PCT.default, 0, 1000),
    rebalanceSettleMs: r.int('REBALANCE_SETTLE_MS', S.REBALANCE_SETTLE_MS.default, 0, 86_400_000),
    maxSessionAgeMs: r.int('MAX_SESSION_AGE_MS', S.MAX_SESSION_AGE_MS.default, 0, 30 * 86_400_000),
    failoverGraceMs: r.int('FAILOVER_GRACE_MS', S.FAILOVER_GRACE_MS.default, 0, 3_600_000),
    dampenSilentShare: readShare(r, 'DAMPEN_SILENT_SHARE', S.DAMPEN_SILENT_SHARE.default),
    dampenMinAgents: r.int('DAMPEN_MIN_AGENTS', S.DAMPEN_MIN_AGENTS.default, 1, 1_000_000),
    dampenMaxMs: r.int('DAMPEN_MAX_MS', S.DAMPEN_MAX_MS.default, 100, 86_400_000),
    tls: readTls(r),
    redisTlsCa: redisTlsCa ? readPem('REDIS_TLS_CA', redisTlsCa) : undefined,
    authTokens: readTokens(r),
  };
  if (config.offlineThresholdMs <= config.stalenessThresholdMs) {
    throw new ConfigError('OFFLINE_THRESHOLD_SEC', 'must be greater than STALENESS_THRESHOLD_SEC');
  }
  if (config.defaultCommandTtlMs > config.maxCommandTtlMs) {
    throw new ConfigError('DEFAULT_COMMAND_TTL_MS', 'must not exceed MAX_COMMAND_TTL_MS');
  }
  if (config.maxSessionAgeMs > 0 && config.maxSessionAgeMs < 10_000) {
    throw new ConfigError('MAX_SESSION_AGE_MS', 'must be 0 (no limit) or at least 10000 (agents would do little but reconnect)');
  }
  if (config.drainWindowMs >= config.shutdownGraceMs) {
    throw new ConfigError('DRAIN_WINDOW_MS', 'must be less than SHUTDOWN_GRACE_MS (agents need time to leave)');
  }
  return Object.freeze(config);
}

/** A share in [0, 1), written as a decimal (`0.3`). */
function readShare(r: ConfigReader, name: string, fallback: number): number {
  const v = r.string(name, String(fallback));
  if (!/^(0(\.\d+)?|\.\d+)$/.test(v)) throw new ConfigError(name, `${JSON.stringify(v)} is not a share (a decimal from 0 up to, not including, 1)`);
  return Number(v);
}

function readTls(r: ConfigReader): OrchestratorConfig['tls'] {
  const cert = r.string('TLS_CERT', S.TLS_CERT.default);
  const key = r.string('TLS_KEY', S.TLS_KEY.default);
  const ca = r.string('TLS_CA', S.TLS_CA.default);
  if (!cert && !key) {
    if (ca) throw new ConfigError('TLS_CA', 'needs TLS_CERT and TLS_KEY (mutual TLS is TLS plus client certificates)');
    return undefined;
  }
  if (!cert) throw new ConfigError('TLS_CERT', 'is required when TLS_KEY is set');
  if (!key) throw new ConfigError('TLS_KEY', 'is required when TLS_CERT is set');
  return { cert: readPem('TLS_CERT', cert), key: readPem('TLS_KEY', key), ca: ca ? readPem('TLS_CA', ca) : undefined };
}

function readTokens(r: ConfigReader): OrchestratorConfig['authTokens'] {
  const path = r.string('AUTH_TOKENS_FILE', S.AUTH_TOKENS_FILE.default);
  return path ? Object.freeze(loadTokensFile(path)) : undefined;
}

/** Reads the process environment and flags. */
export function loadOrchestratorConfig(env: NodeJS.ProcessEnv, argv: readonly string[]): OrchestratorConfig {
  return compileOrchestratorConfig(mergeFlags(env, argv, ORCHESTRATOR_VARIABLES));
}
