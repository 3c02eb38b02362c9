/** The consumer group every replica joins on the ingress stream (external contract). */
export const CONSUMER_GROUP = 'orchestrator_group';

/**
 * Every Redis key Nexus uses, built from one prefix (default `nexus`; `{nexus}` puts every key
 * into one Redis Cluster slot so multi-key scripts stay legal there).
 */
export class NexusKeys {
  /** Ingress stream operators XADD to (external contract). */
  readonly commandsStream: string;
  /** Dead letters (external contract). */
  readonly dlq: string;
  /** Lifecycle events (external contract). */
  readonly events: string;
  /** Lexicographic index of every known agent id (zset, score 0): paging by id. */
  readonly agentIndex: string;
  /** Agents by state (zsets): online/stale scored by last pulse, offline by when it went offline. */
  readonly agentsOnline: string;
  readonly agentsStale: string;
  readonly agentsOffline: string;
  /** Global session counter: every new session takes the next value as its fencing epoch. */
  readonly agentEpoch: string;
  /** Live replicas (zset scored by last beat). */
  readonly replicas: string;
  /** Prefix of agent record keys; scripts that walk many agents build keys from it. */
  readonly agentPrefix: string;

  constructor(readonly prefix: string) {
    this.commandsStream = `${prefix}:commands:stream`;
    this.dlq = `${prefix}:commands:dlq`;
    this.events = `${prefix}:events:stream`;
    this.agentIndex = `${prefix}:agents:index`;
    this.agentsOnline = `${prefix}:agents:online`;
    this.agentsStale = `${prefix}:agents:stale`;
    this.agentsOffline = `${prefix}:agents:offline`;
    this.agentEpoch = `${prefix}:agents:epoch`;
    this.replicas = `${prefix}:replicas`;
    this.agentPrefix = `${prefix}:agent:`;
  }

  /** Agent record (hash): owner replica, session, epoch, state, hello fields, metrics. */
  agent(agentId: string): string {
    return this.agentPrefix + agentId;
  }

  /** Replica record (hash, TTL'd): address, version, start time, connected agents. */
  replica(replicaId: string): string {
    return `${this.prefix}:replica:${replicaId}`;
  }

  /** Pub/sub channel on which a replica hears about its sessions (replacement, mail). */
  replicaChannel(replicaId: string): string {
    return `${this.prefix}:replica:${replicaId}:bell`;
  }
}
