import { LOG_LEVELS } from '../shared/logger';
import { computed, setting, variablesOf } from '../shared/settings';

const IDENTITY = 'Identity';
const CONNECTION = 'Connection';
const COMMANDS = 'Commands and process';
const TLS = 'TLS';

/**
 * Every setting of the agent CLI: the defaults `compileAgentCliConfig` (and, for the options
 * they share, `compileAgentOptions`) uses, and the text of `--help` and docs/operations.md
 * (`npm run docs`). `HEARTBEAT_INTERVAL`, `INITIAL_BACKOFF` and `MAX_BACKOFF` are in seconds.
 */
export const AGENT_SETTINGS = Object.freeze({
  AGENT_ID: computed(IDENTITY, 'hostname', 'unique id; letters, digits and `. _ : @ -`, at most 128 characters'),
  AGENT_TYPE: setting(IDENTITY, 'generic', 'free text, filterable in `GetSystemStatus`'),
  DISPLAY_NAME: computed(IDENTITY, '`AGENT_ID`', 'name shown in `GetSystemStatus` (with `AGENT_COUNT` > 1, each agent\'s own id)'),
  CAPABILITIES: setting(IDENTITY, Object.freeze(['scan', 'report', 'analyze', 'execute']), 'comma-separated'),
  AGENT_LABELS: setting(IDENTITY, '', '`key=value,key2=value2`'),

  ORCHESTRATOR_HOST: setting(CONNECTION, 'localhost:50051', 'any gRPC target: `host:port`, `dns:///nexus-orchestrator:50051`, `ipv4:127.0.0.1:50051,127.0.0.1:50052`'),
  HEARTBEAT_INTERVAL: setting(CONNECTION, 10, 'seconds (fractions allowed); the orchestrator may ask for less (a third of its staleness threshold)'),
  MAX_RETRIES: setting(CONNECTION, 0, 'consecutive failed connection attempts before giving up (exit 1); 0 = forever'),
  INITIAL_BACKOFF: setting(CONNECTION, 1, 'seconds; first backoff window. Full jitter: wait `random(0, min(MAX_BACKOFF, INITIAL_BACKOFF * 2^n))`'),
  MAX_BACKOFF: setting(CONNECTION, 60, 'seconds; largest backoff window, at least `INITIAL_BACKOFF`'),
  KEEPALIVE_TIME_MS: setting(CONNECTION, 20_000, 'client keepalive ping interval (agrees with the server\'s)'),
  KEEPALIVE_TIMEOUT_MS: setting(CONNECTION, 10_000, 'a keepalive ping not answered within this closes the connection'),
  MAX_MESSAGE_BYTES: setting(CONNECTION, 1024 * 1024, 'largest gRPC message, each way'),
  RECONNECT_HINTS: setting(CONNECTION, 'true', 'when a replica moves this agent to balance the fleet, try the lighter replica it names first (falling back to `ORCHESTRATOR_HOST`); turn off when agents reach the replicas through a proxy or load balancer that does not expose each replica\'s address'),

  MAX_CONCURRENCY: setting(COMMANDS, 4, 'commands run at once'),
  RESULT_CACHE_SIZE: setting(COMMANDS, 1000, 'results remembered so a redelivered command is not run twice'),
  AGENT_COUNT: setting(COMMANDS, 1, 'N > 1 runs N agents in one process, ids `<AGENT_ID>-1` .. `<AGENT_ID>-N`; their first attempts are spread at random over `INITIAL_BACKOFF`'),
  LOG_LEVEL: setting(COMMANDS, 'info', `one of ${LOG_LEVELS.map((l) => `\`${l}\``).join(' ')}`),
  EXECUTION_LOG: setting(COMMANDS, '', 'a file that gets one JSON line per command run (`agent`, `command_id`, `attempt`, `type`, `t`), for audits and chaos tests'),

  TLS_CA: setting(TLS, '', 'verify the orchestrator with this CA (PEM file; turns TLS on)'),
  TLS_CERT: setting(TLS, '', 'client certificate (PEM file) for mutual TLS, with `TLS_KEY`; it must name this agent (SAN URI `spiffe://nexus/agent/<AGENT_ID>`, or CN)'),
  TLS_KEY: setting(TLS, '', 'private key (PEM file) of `TLS_CERT`'),
  TLS_SERVER_NAME: setting(TLS, '', 'the name to verify when the target\'s host name differs from the certificate\'s'),
  AUTH_TOKEN_FILE: setting(TLS, '', 'a file holding this agent\'s bearer token (sent as `authorization: Bearer <token>`, never logged), for orchestrators with `AUTH_TOKENS_FILE`; its line there is `agent <AGENT_ID> <sha256 of the token>`'),
});

/** An agent CLI variable name. */
export type AgentVariable = keyof typeof AGENT_SETTINGS;

/** Every variable the agent CLI reads (each also a `--kebab-case` flag). */
export const AGENT_VARIABLES = variablesOf(AGENT_SETTINGS);
