import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { ConfigError } from '../shared/config-error';
import { ConfigReader, mergeFlags, type RawConfig } from '../shared/config-reader';
import { LOG_LEVELS, type LogLevel } from '../shared/logger';
import { readPem } from '../shared/tls-files';

/** Every variable the orchestrator reads (each also a `--kebab-case` flag). */
export const ORCHESTRATOR_VARIABLES = [
  'GRPC_HOST', 'GRPC_PORT', 'REDIS_URL', 'REDIS_KEY_PREFIX', 'METRICS_PORT', 'REPLICA_ID', 'ADVERTISE_ADDRESS',
  'STALENESS_THRESHOLD_SEC', 'STALENESS_CHECK_INTERVAL', 'OFFLINE_THRESHOLD_SEC', 'AGENT_RETENTION_SEC',
  'REPLICA_BEAT_INTERVAL_MS', 'HEARTBEAT_FLUSH_MS', 'HELLO_TIMEOUT_MS', 'MAX_MESSAGE_BYTES',
  'MAX_CONCURRENT_STREAMS', 'KEEPALIVE_TIME_MS', 'KEEPALIVE_TIMEOUT_MS', 'DRAIN_WINDOW_MS',
  'SHUTDOWN_GRACE_MS', 'READINESS_PROBE_INTERVAL_MS', 'READINESS_PROBE_TIMEOUT_MS',
  'REDIS_COMMAND_TIMEOUT_MS', 'EVENTS_MAXLEN', 'LOG_LEVEL',
  'MAX_PAYLOAD_BYTES', 'DEFAULT_MAX_ATTEMPTS', 'DEFAULT_COMMAND_TTL_MS', 'MAX_COMMAND_TTL_MS', 'COMMAND_RETENTION_MS',
  'DLQ_MAXLEN', 'DLQ_PAYLOAD_BYTES', 'MAILBOX_MAX', 'DELIVERY_WINDOW_MAX', 'RETRY_BASE_MS', 'RETRY_MAX_MS',
  'INGRESS_BATCH', 'INGRESS_BLOCK_MS', 'INGRESS_TARGET_LEN', 'CLAIM_MIN_IDLE_MS', 'CLAIM_SWEEP_MS', 'POISON_DELIVERIES',
  'MAINTENANCE_INTERVAL_MS', 'WAKE_POLL_MS', 'CONSUMER_RETIRE_IDLE_MS', 'REDIS_LOSS_DRAIN_MS',
  'AGENT_RECONNECT_LIMIT', 'AGENT_RECONNECT_WINDOW_MS', 'SESSION_ADMISSION_RATE',
  'TLS_CERT', 'TLS_KEY', 'TLS_CA', 'REDIS_TLS_CA',
] as const;

/** The orchestrator's configuration, compiled and validated once at start. Durations in ms. */
export interface OrchestratorConfig {
  /** Address the gRPC server binds. @default 0.0.0.0 */
  readonly grpcHost: string;
  /** gRPC port; 0 picks a free one. @default 50051 */
  readonly grpcPort: number;
  /** Redis URL (redis:// or rediss://). @default redis://localhost:6379/0 */
  readonly redisUrl: string;
  /** Prefix of every Redis key. @default nexus */
  readonly keyPrefix: string;
  /** Prometheus port; 0 turns the endpoint off. @default 9090 */
  readonly metricsPort: number;
  /** Unique per process. @default hostname-<random> */
  readonly replicaId: string;
  /** Address other tools should use to reach this replica (shown in status). @default hostname:port */
  readonly advertiseAddress: string;
  /** No pulse for this long -> stale. @default 60 s */
  readonly stalenessThresholdMs: number;
  /** How often staleness is checked. @default 30 s */
  readonly stalenessCheckIntervalMs: number;
  /** No pulse for this long -> offline, and the local session is closed. @default 2 x staleness */
  readonly offlineThresholdMs: number;
  /** Offline agents are forgotten after this long. @default 86400 s */
  readonly agentRetentionMs: number;
  /** How often the replica records itself as alive; it is dead after 3 missed beats. @default 5000 */
  readonly replicaBeatIntervalMs: number;
  /** Heartbeats are coalesced and written to Redis this often. @default 1000 */
  readonly heartbeatFlushMs: number;
  /** A Pulse must say hello within this time. @default 5000 */
  readonly helloTimeoutMs: number;
  /** Largest gRPC message, each way. @default 1 MiB */
  readonly maxMessageBytes: number;
  /** HTTP/2 streams per connection. @default 16 */
  readonly maxConcurrentStreams: number;
  /** Server keepalive ping interval. @default 20000 */
  readonly keepaliveTimeMs: number;
  /** Keepalive ping answer deadline. @default 10000 */
  readonly keepaliveTimeoutMs: number;
  /** Drained agents reconnect after a delay drawn from [0, this). @default 10000 */
  readonly drainWindowMs: number;
  /** SIGTERM to exit, at most. @default 25000 */
  readonly shutdownGraceMs: number;
  /** Readiness PING interval. @default 1000 */
  readonly readinessProbeIntervalMs: number;
  /** Readiness PING timeout. @default 1000 */
  readonly readinessProbeTimeoutMs: number;
  /** Timeout of ordinary Redis commands. @default 5000 */
  readonly redisCommandTimeoutMs: number;
  /** Approximate cap of the events stream. @default 100000 */
  readonly eventsMaxLen: number;
  /** @default info */
  readonly logLevel: LogLevel;
  /** Largest command payload accepted from the ingress. @default 262144 (256 KiB) */
  readonly maxPayloadBytes: number;
  /** Runs of a failing command before it is dead-lettered `failed`. @default 3 */
  readonly defaultMaxAttempts: number;
  /** A command not delivered within this is dead-lettered `expired`. @default 3600000 (1 h) */
  readonly defaultCommandTtlMs: number;
  /** Largest `ttl_ms` accepted. @default 604800000 (7 days) */
  readonly maxCommandTtlMs: number;
  /** Finished command records (and dedupe of their ids) are kept this long. @default 86400000 (24 h) */
  readonly commandRetentionMs: number;
  /** Approximate cap of the dead-letter stream. @default 10000 */
  readonly dlqMaxLen: number;
  /** Bytes of a payload kept in a dead letter. @default 4096 */
  readonly dlqPayloadBytes: number;
  /** Commands waiting per agent; more are dead-lettered `mailbox_full`. @default 10000 */
  readonly mailboxMax: number;
  /** Most commands in flight per session (the agent's max_concurrency, capped here). @default 32 */
  readonly deliveryWindowMax: number;
  /** First retry delay after a failure, doubling per attempt. @default 1000 */
  readonly retryBaseMs: number;
  /** Longest retry delay. @default 60000 */
  readonly retryMaxMs: number;
  /** Entries per ingress read. @default 100 */
  readonly ingressBatch: number;
  /** Ingress read blocks this long at most. @default 2000 */
  readonly ingressBlockMs: number;
  /** The ingress is trimmed (only below what the group handled) when longer than this. @default 10000 */
  readonly ingressTargetLen: number;
  /** Entries pending this long on any consumer are reclaimed. @default 30000 */
  readonly claimMinIdleMs: number;
  /** How often idle entries are looked for. @default 5000 */
  readonly claimSweepMs: number;
  /** Deliveries after which an entry is dead-lettered `poison`. @default 5 */
  readonly poisonDeliveries: number;
  /** Expiry, trimming and stream gauges run this often. @default 1000 */
  readonly maintenanceIntervalMs: number;
  /** This replica's wake set is polled this often (the doorbell's durable half). @default 1000 */
  readonly wakePollMs: number;
  /** Consumers of the group with nothing pending and idle this long are deleted. @default 3600000 */
  readonly consumerRetireIdleMs: number;
  /** Redis unreachable this long: tell this replica's agents to move to a healthy replica. @default 10000 */
  readonly redisLossDrainMs: number;
  /** Sessions one agent id may start per window, cluster-wide; more get RESOURCE_EXHAUSTED. @default 30 */
  readonly agentReconnectLimit: number;
  /** @default 60000 */
  readonly agentReconnectWindowMs: number;
  /** New sessions this replica admits per second (token bucket, burst = rate). @default 1000 */
  readonly sessionAdmissionRate: number;
  /**
   * gRPC TLS: certificate chain and key (PEM). With a CA too, clients must present a
   * certificate from it (mTLS) and a hello's agent_id must match the certificate's identity.
   * @default undefined (plaintext, with a warning at start)
   */
  readonly tls: { cert: Buffer; key: Buffer; ca: Buffer | undefined } | undefined;
  /** CA (PEM) to verify a `rediss://` Redis with; the system CAs when unset. */
  readonly redisTlsCa: Buffer | undefined;
}

/** Compiles raw values into a frozen config; throws ConfigError naming the bad variable. */
export function compileOrchestratorConfig(raw: RawConfig): OrchestratorConfig {
  const r = new ConfigReader(raw);
  const grpcPort = r.int('GRPC_PORT', 50051, 0, 65535);
  const replicaId = r.string('REPLICA_ID', `${hostname()}-${randomBytes(3).toString('hex')}`, {
    maxLength: 128,
    pattern: /^[A-Za-z0-9][A-Za-z0-9._:-]*$/,
  });
  const stalenessThresholdMs = r.secondsAsMs('STALENESS_THRESHOLD_SEC', 60, 0.1, 86400);
  const config: OrchestratorConfig = {
    grpcHost: r.string('GRPC_HOST', '0.0.0.0'),
    grpcPort,
    redisUrl: r.url('REDIS_URL', 'redis://localhost:6379/0', ['redis:', 'rediss:']),
    keyPrefix: r.string('REDIS_KEY_PREFIX', 'nexus', { maxLength: 64, pattern: /^[A-Za-z0-9{}_.:-]+$/ }),
    metricsPort: r.int('METRICS_PORT', 9090, 0, 65535),
    replicaId,
    advertiseAddress: r.string('ADVERTISE_ADDRESS', `${hostname()}:${grpcPort}`),
    stalenessThresholdMs,
    stalenessCheckIntervalMs: r.secondsAsMs('STALENESS_CHECK_INTERVAL', 30, 0.05, 3600),
    offlineThresholdMs: r.secondsAsMs('OFFLINE_THRESHOLD_SEC', (2 * stalenessThresholdMs) / 1000, 0.1, 172800),
    agentRetentionMs: r.secondsAsMs('AGENT_RETENTION_SEC', 86400, 1, 30 * 86400),
    replicaBeatIntervalMs: r.int('REPLICA_BEAT_INTERVAL_MS', 5000, 50, 60000),
    heartbeatFlushMs: r.int('HEARTBEAT_FLUSH_MS', 1000, 10, 60000),
    helloTimeoutMs: r.int('HELLO_TIMEOUT_MS', 5000, 10, 60000),
    maxMessageBytes: r.int('MAX_MESSAGE_BYTES', 1024 * 1024, 1024, 64 * 1024 * 1024),
    maxConcurrentStreams: r.int('MAX_CONCURRENT_STREAMS', 16, 1, 1000),
    keepaliveTimeMs: r.int('KEEPALIVE_TIME_MS', 20000, 100, 7200000),
    keepaliveTimeoutMs: r.int('KEEPALIVE_TIMEOUT_MS', 10000, 100, 600000),
    drainWindowMs: r.int('DRAIN_WINDOW_MS', 10000, 0, 600000),
    shutdownGraceMs: r.int('SHUTDOWN_GRACE_MS', 25000, 100, 3600000),
    readinessProbeIntervalMs: r.int('READINESS_PROBE_INTERVAL_MS', 1000, 50, 60000),
    readinessProbeTimeoutMs: r.int('READINESS_PROBE_TIMEOUT_MS', 1000, 50, 60000),
    redisCommandTimeoutMs: r.int('REDIS_COMMAND_TIMEOUT_MS', 5000, 100, 600000),
    eventsMaxLen: r.int('EVENTS_MAXLEN', 100000, 100, 100_000_000),
    logLevel: r.oneOf('LOG_LEVEL', 'info', LOG_LEVELS),
    maxPayloadBytes: r.int('MAX_PAYLOAD_BYTES', 256 * 1024, 0, 16 * 1024 * 1024),
    defaultMaxAttempts: r.int('DEFAULT_MAX_ATTEMPTS', 3, 1, 100),
    defaultCommandTtlMs: r.int('DEFAULT_COMMAND_TTL_MS', 3_600_000, 1, 30 * 86_400_000),
    maxCommandTtlMs: r.int('MAX_COMMAND_TTL_MS', 7 * 86_400_000, 1, 30 * 86_400_000),
    commandRetentionMs: r.int('COMMAND_RETENTION_MS', 86_400_000, 1000, 30 * 86_400_000),
    dlqMaxLen: r.int('DLQ_MAXLEN', 10_000, 10, 10_000_000),
    dlqPayloadBytes: r.int('DLQ_PAYLOAD_BYTES', 4096, 0, 1024 * 1024),
    mailboxMax: r.int('MAILBOX_MAX', 10_000, 1, 10_000_000),
    deliveryWindowMax: r.int('DELIVERY_WINDOW_MAX', 32, 1, 10_000),
    retryBaseMs: r.int('RETRY_BASE_MS', 1000, 1, 3_600_000),
    retryMaxMs: r.int('RETRY_MAX_MS', 60_000, 1, 86_400_000),
    ingressBatch: r.int('INGRESS_BATCH', 100, 1, 10_000),
    ingressBlockMs: r.int('INGRESS_BLOCK_MS', 2000, 10, 60_000),
    ingressTargetLen: r.int('INGRESS_TARGET_LEN', 10_000, 100, 100_000_000),
    claimMinIdleMs: r.int('CLAIM_MIN_IDLE_MS', 30_000, 10, 3_600_000),
    claimSweepMs: r.int('CLAIM_SWEEP_MS', 5000, 10, 3_600_000),
    poisonDeliveries: r.int('POISON_DELIVERIES', 5, 1, 1000),
    maintenanceIntervalMs: r.int('MAINTENANCE_INTERVAL_MS', 1000, 10, 3_600_000),
    wakePollMs: r.int('WAKE_POLL_MS', 1000, 10, 60_000),
    consumerRetireIdleMs: r.int('CONSUMER_RETIRE_IDLE_MS', 3_600_000, 1000, 30 * 86_400_000),
    redisLossDrainMs: r.int('REDIS_LOSS_DRAIN_MS', 10_000, 100, 3_600_000),
    agentReconnectLimit: r.int('AGENT_RECONNECT_LIMIT', 30, 1, 1_000_000),
    agentReconnectWindowMs: r.int('AGENT_RECONNECT_WINDOW_MS', 60_000, 100, 86_400_000),
    sessionAdmissionRate: r.int('SESSION_ADMISSION_RATE', 1000, 1, 1_000_000),
    tls: readTls(r),
    redisTlsCa: r.string('REDIS_TLS_CA', '') ? readPem('REDIS_TLS_CA', r.string('REDIS_TLS_CA', '')) : undefined,
  };
  if (config.offlineThresholdMs <= config.stalenessThresholdMs) {
    throw new ConfigError('OFFLINE_THRESHOLD_SEC', 'must be greater than STALENESS_THRESHOLD_SEC');
  }
  if (config.defaultCommandTtlMs > config.maxCommandTtlMs) {
    throw new ConfigError('DEFAULT_COMMAND_TTL_MS', 'must not exceed MAX_COMMAND_TTL_MS');
  }
  if (config.drainWindowMs >= config.shutdownGraceMs) {
    throw new ConfigError('DRAIN_WINDOW_MS', 'must be less than SHUTDOWN_GRACE_MS (agents need time to leave)');
  }
  return Object.freeze(config);
}

function readTls(r: ConfigReader): OrchestratorConfig['tls'] {
  const cert = r.string('TLS_CERT', '');
  const key = r.string('TLS_KEY', '');
  const ca = r.string('TLS_CA', '');
  if (!cert && !key) {
    if (ca) throw new ConfigError('TLS_CA', 'needs TLS_CERT and TLS_KEY (mutual TLS is TLS plus client certificates)');
    return undefined;
  }
  if (!cert) throw new ConfigError('TLS_CERT', 'is required when TLS_KEY is set');
  if (!key) throw new ConfigError('TLS_KEY', 'is required when TLS_CERT is set');
  return { cert: readPem('TLS_CERT', cert), key: readPem('TLS_KEY', key), ca: ca ? readPem('TLS_CA', ca) : undefined };
}

/** Reads the process environment and flags. */
export function loadOrchestratorConfig(env: NodeJS.ProcessEnv, argv: readonly string[]): OrchestratorConfig {
  return compileOrchestratorConfig(mergeFlags(env, argv, ORCHESTRATOR_VARIABLES));
}
