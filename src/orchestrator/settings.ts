import { LOG_LEVELS } from '../shared/logger';
import { computed, setting, variablesOf } from '../shared/settings';

const SERVER = 'Server and identity';
const REDIS = 'Redis';
const LIVENESS = 'Agent and replica liveness';
const SESSIONS = 'gRPC sessions';
const SHUTDOWN = 'Shutdown';
const COMMANDS = 'Commands';
const INGRESS = 'Ingress and maintenance';
const TLS = 'TLS';
const AUTH = 'Identity and roles';
const BALANCE = 'Balancing (docs/balancing.md)';
const DAMPENING = 'Dampening (docs/dampening.md)';

/**
 * Every orchestrator setting: the defaults `compileOrchestratorConfig` uses, and the text of
 * `--help` and docs/operations.md (`npm run docs`). Durations are in the unit the name ends
 * with (`_MS`, `_SEC`); the loader turns them into milliseconds.
 */
export const ORCHESTRATOR_SETTINGS = Object.freeze({
  GRPC_HOST: setting(SERVER, '0.0.0.0', 'bind address (also used for the metrics port)'),
  GRPC_PORT: setting(SERVER, 50051, 'gRPC port (0 = any free port)'),
  METRICS_PORT: setting(SERVER, 9090, 'Prometheus `/metrics`; 0 turns it off'),
  CONSOLE_PORT: setting(SERVER, 8080, 'the web console (HTTP, bound to `GRPC_HOST`); 0 turns it off. Off, with a warning at start, when `TLS_CA` (mutual TLS) is set'),
  REPLICA_ID: computed(SERVER, 'hostname + random suffix', 'unique per process (never the PID, which is 1 in every container)'),
  ADVERTISE_ADDRESS: computed(SERVER, 'hostname:`GRPC_PORT`', 'the address other tools should use to reach this replica; shown in `GetSystemStatus`'),
  LOG_LEVEL: setting(SERVER, 'info', `one of ${LOG_LEVELS.map((l) => `\`${l}\``).join(' ')}`),

  REDIS_URL: setting(REDIS, 'redis://localhost:6379/0', '`redis://` or `rediss://`; the password is never logged'),
  REDIS_KEY_PREFIX: setting(REDIS, 'nexus', 'prefix of every key; `{nexus}` keeps all keys in one Cluster slot'),
  REDIS_COMMAND_TIMEOUT_MS: setting(REDIS, 5000, 'timeout of ordinary Redis commands'),
  READINESS_PROBE_INTERVAL_MS: setting(REDIS, 1000, 'a Redis PING on a dedicated connection drives readiness; it runs this often'),
  READINESS_PROBE_TIMEOUT_MS: setting(REDIS, 1000, 'a readiness PING not answered within this counts as Redis unreachable: not ready'),
  REDIS_LOSS_DRAIN_MS: setting(REDIS, 10_000, 'Redis unreachable this long: this replica\'s agents are told to move to replicas that still reach it'),
  EVENTS_MAXLEN: setting(REDIS, 100_000, 'approximate cap of `nexus:events:stream`'),

  STALENESS_THRESHOLD_SEC: setting(LIVENESS, 60, 'no pulse for this many seconds: `stale`'),
  STALENESS_CHECK_INTERVAL: setting(LIVENESS, 30, 'seconds between staleness sweeps'),
  OFFLINE_THRESHOLD_SEC: computed(LIVENESS, '2 x `STALENESS_THRESHOLD_SEC`', 'no pulse for this many seconds: `offline`, and the replica closes the session; must be greater than `STALENESS_THRESHOLD_SEC`'),
  AGENT_RETENTION_SEC: setting(LIVENESS, 86_400, 'offline agents are forgotten after this many seconds (record TTL)'),
  REPLICA_BEAT_INTERVAL_MS: setting(LIVENESS, 5000, 'replica liveness in Redis; dead after 3 missed beats (`replica_down`)'),
  HEARTBEAT_FLUSH_MS: setting(LIVENESS, 1000, 'agent heartbeats are coalesced and written this often, one pipeline per flush'),

  HELLO_TIMEOUT_MS: setting(SESSIONS, 5000, 'a Pulse must say hello within this time'),
  MAX_MESSAGE_BYTES: setting(SESSIONS, 1024 * 1024, 'largest gRPC message, each way'),
  MAX_CONCURRENT_STREAMS: setting(SESSIONS, 16, 'HTTP/2 streams per connection'),
  KEEPALIVE_TIME_MS: setting(SESSIONS, 20_000, 'server keepalive ping interval (a half-open link is closed after time + timeout)'),
  KEEPALIVE_TIMEOUT_MS: setting(SESSIONS, 10_000, 'a keepalive ping not answered within this closes the connection'),
  AGENT_RECONNECT_LIMIT: setting(SESSIONS, 30, 'sessions one agent id may start per `AGENT_RECONNECT_WINDOW_MS`, cluster-wide; more get `RESOURCE_EXHAUSTED` with `retry-after-ms`'),
  AGENT_RECONNECT_WINDOW_MS: setting(SESSIONS, 60_000, 'the window `AGENT_RECONNECT_LIMIT` counts over'),
  SESSION_ADMISSION_RATE: setting(SESSIONS, 1000, 'new sessions this replica admits per second (burst = rate); more get `RESOURCE_EXHAUSTED` with `retry-after-ms`'),
  MAX_WATCHERS: setting(SESSIONS, 100, 'open `WatchCommand` and `WatchEvents` streams per replica, both kinds together; one more gets `RESOURCE_EXHAUSTED`'),

  REBALANCE_RATE: setting(BALANCE, 50, 'when a replica is further from the fair share of the fleet than the tolerance, replicas over their share move up to this many agents per second each to lighter replicas (never more than half of what those admit); 0 turns rebalancing off'),
  REBALANCE_TOLERANCE_PCT: setting(BALANCE, 10, 'how far from the fair share (agents / ready replicas), above or below, in percent of it and at least 1 agent, any replica may be before agents are moved; then each replica moves down to its share'),
  REBALANCE_SETTLE_MS: setting(BALANCE, 60_000, 'sessions younger than this are never moved, so an agent moves at most once per this period'),
  MAX_SESSION_AGE_MS: setting(BALANCE, 0, 'sessions older than this (each 0-10 % less, at random) are told to reconnect, to the least loaded replica; a busy one gets a tenth more to finish. 0 = no limit'),

  DRAIN_WINDOW_MS: setting(SHUTDOWN, 10_000, 'on SIGTERM, agents are told to reconnect after a delay drawn from [0, this); must be less than `SHUTDOWN_GRACE_MS`'),
  SHUTDOWN_GRACE_MS: setting(SHUTDOWN, 25_000, 'SIGTERM to exit, at most (keep it below Kubernetes\' `terminationGracePeriodSeconds`)'),

  MAX_PAYLOAD_BYTES: setting(COMMANDS, 256 * 1024, 'larger payloads are dead-lettered `invalid`'),
  DEFAULT_MAX_ATTEMPTS: setting(COMMANDS, 3, 'runs of a failing command before it is dead-lettered `failed`'),
  DEFAULT_COMMAND_TTL_MS: setting(COMMANDS, 3_600_000, 'a command not delivered within its TTL is dead-lettered `expired`; this is the TTL when the command sets none'),
  MAX_FANOUT: setting(COMMANDS, 10_000, 'most agents one `pick all` command (a `selector`) may reach; a larger match is dead-lettered `invalid` with the count'),
  FANOUT_POLL_MS: setting(COMMANDS, 100, 'how often each replica looks for fan-out work that is due (the next batch of a rollout, a cancel) and for `pick any` commands waiting for a free agent'),
  MAX_COMMAND_TTL_MS: setting(COMMANDS, 7 * 86_400_000, 'largest `ttl_ms` accepted; at least `DEFAULT_COMMAND_TTL_MS`'),
  COMMAND_RETENTION_MS: setting(COMMANDS, 86_400_000, 'finished records (and the dedupe of their ids) are kept this long'),
  RETRY_BASE_MS: setting(COMMANDS, 1000, 'first retry delay after a failure, doubling per attempt'),
  RETRY_MAX_MS: setting(COMMANDS, 60_000, 'longest retry delay'),
  COMMAND_LOG_MAX_LINES: setting(COMMANDS, 1000, 'entries (log lines and progress reports) kept in each command\'s log stream; lines are cut to 1,024 bytes, so about 1 MiB per stream at most'),
  DLQ_MAXLEN: setting(COMMANDS, 10_000, 'approximate cap of the dead-letter stream'),
  DLQ_PAYLOAD_BYTES: setting(COMMANDS, 4096, 'bytes of a payload kept in a dead letter'),
  MAILBOX_MAX: setting(COMMANDS, 10_000, 'commands waiting per agent; more are dead-lettered `mailbox_full`'),
  DELIVERY_WINDOW_MAX: setting(COMMANDS, 32, 'cap on the per-agent in-flight window (the agent\'s `max_concurrency`)'),

  INGRESS_BATCH: setting(INGRESS, 100, 'entries per ingress read'),
  INGRESS_BLOCK_MS: setting(INGRESS, 2000, 'longest blocking ingress read'),
  INGRESS_TARGET_LEN: setting(INGRESS, 10_000, 'the ingress is trimmed, only below what the group handled, when longer than this'),
  CLAIM_MIN_IDLE_MS: setting(INGRESS, 30_000, 'entries pending this long on any consumer are reclaimed'),
  CLAIM_SWEEP_MS: setting(INGRESS, 5000, 'how often idle entries are looked for'),
  POISON_DELIVERIES: setting(INGRESS, 5, 'deliveries after which an entry is dead-lettered `poison`'),
  MAINTENANCE_INTERVAL_MS: setting(INGRESS, 1000, 'TTL expiry, ingress trimming and stream gauges run this often'),
  WAKE_POLL_MS: setting(INGRESS, 1000, 'the durable doorbell (this replica\'s wake set) is polled this often'),
  CONSUMER_RETIRE_IDLE_MS: setting(INGRESS, 3_600_000, 'consumers of the group with nothing pending, idle this long, are deleted (a clean shutdown deletes its own)'),

  TLS_CERT: setting(TLS, '', 'gRPC over TLS: certificate chain (PEM file), with `TLS_KEY`; without them the replica logs a warning at start and `nexus_grpc_plaintext` is 1'),
  TLS_KEY: setting(TLS, '', 'private key (PEM file) of `TLS_CERT`'),
  TLS_CA: setting(TLS, '', 'with TLS: clients must present a certificate from this CA (mutual TLS) naming the agent id they say hello with'),
  REDIS_TLS_CA: setting(TLS, '', 'CA (PEM file) to verify a `rediss://` Redis with; the system CAs when unset'),

  FAILOVER_GRACE_MS: setting(DAMPENING, 30_000, 'after a gap in the staleness sweeps (Redis or every replica was down), a reaped replica, or this replica regaining Redis, the agents concerned are not marked stale for this long, so they can pulse or reconnect first; 0 turns it off'),
  DAMPEN_SILENT_SHARE: setting(DAMPENING, 0.3, 'more than this share of this replica\'s agents silent (or gone without goodbye) within one staleness window: their offline transitions are held; 0 turns it off'),
  DAMPEN_MIN_AGENTS: setting(DAMPENING, 10, 'mass silence needs at least this many silent agents on the replica'),
  DAMPEN_MAX_MS: setting(DAMPENING, 300_000, 'longest hold for mass silence: afterwards the held agents go stale and offline as usual (delayed, not lost)'),

  AUTH_TOKENS_FILE: setting(AUTH, '', 'without client certificates: bearer tokens callers send as `authorization: Bearer <token>`, one `<role> <name> <sha256 hex of the token>` per line (roles `agent`, `viewer`, `operator`; docs/roles.md). With `TLS_CA` the certificate decides and this is not used; with neither the replica is open (a warning at start, `nexus_auth_open` 1)'),
});

/** An orchestrator variable name. */
export type OrchestratorVariable = keyof typeof ORCHESTRATOR_SETTINGS;

/** Every variable the orchestrator reads (each also a `--kebab-case` flag). */
export const ORCHESTRATOR_VARIABLES = variablesOf(ORCHESTRATOR_SETTINGS);
