/** Agent states as stored in Redis. */
export type AgentStateName = 'online' | 'stale' | 'offline';

/** Host metrics as reported by the agent. */
export interface StoredMetrics {
  cpuPercent: number;
  memoryUsedBytes: number;
  memoryTotalBytes: number;
  loadAverage1m: number;
  uptimeSeconds: number;
}

/** The hello fields kept in an agent record. */
export interface AgentProfile {
  agentType: string;
  displayName: string;
  capabilities: string[];
  labels: Record<string, string>;
  version: string;
  maxConcurrency: number;
}

/** An agent record as read back from Redis. */
export interface AgentRecord extends AgentProfile {
  agentId: string;
  state: AgentStateName;
  replicaId: string;
  sessionId: string;
  epoch: number;
  metrics: StoredMetrics | undefined;
  activeCommands: number;
  lastPulseMs: number;
  connectedAtMs: number;
}

/** Hello fields as field/value pairs for HSET. */
export function profileFields(profile: AgentProfile): string[] {
  return [
    'agent_type', profile.agentType,
    'display_name', profile.displayName,
    'capabilities', profile.capabilities.join(','),
    'labels', JSON.stringify(profile.labels),
    'version', profile.version,
    'max_concurrency', String(profile.maxConcurrency),
  ];
}

function parseJson<T>(text: string | undefined, fallback: T): T {
  if (!text) return fallback;
  try {
    return JSON.parse(text) as T;
  } catch {
    return fallback;
  }
}

/** Turns an HGETALL reply into a record; undefined when the hash is gone. */
export function parseAgentRecord(hash: Record<string, string>): AgentRecord | undefined {
  if (!hash.agent_id) return undefined;
  const state = hash.state === 'online' || hash.state === 'stale' ? hash.state : 'offline';
  return {
    agentId: hash.agent_id,
    state,
    replicaId: hash.replica ?? '',
    sessionId: hash.session ?? '',
    epoch: Number(hash.epoch ?? 0),
    agentType: hash.agent_type ?? '',
    displayName: hash.display_name ?? '',
    capabilities: hash.capabilities ? hash.capabilities.split(',') : [],
    labels: parseJson<Record<string, string>>(hash.labels, {}),
    version: hash.version ?? '',
    maxConcurrency: Number(hash.max_concurrency ?? 0),
    metrics: parseJson<StoredMetrics | undefined>(hash.metrics, undefined),
    activeCommands: Number(hash.active_commands ?? 0),
    lastPulseMs: Number(hash.last_pulse ?? 0),
    connectedAtMs: Number(hash.connected_at ?? 0),
  };
}
