/** The consumer group every replica joins on the ingress stream (external contract). */
export const CONSUMER_GROUP = 'orchestrator_group';

/** Suffix of a replica's bell channel after its replica key (scripts build it for any owner). */
export const BELL_SUFFIX = ':bell';
/** Suffix of a replica's wake set after its replica key. */
export const WAKE_SUFFIX = ':wake';
/** A wake set nobody polls (its replica died) expires after this long. */
export const WAKE_TTL_MS = 3_600_000;
/** An agent's requested-cancels set expires after this long (its session is long gone by then). */
export const CANCELS_TTL_MS = 3_600_000;

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
  /** Prefix of command record keys (`<prefix>:command:<id>`). */
  readonly commandPrefix: string;
  /** Prefix of agent mailboxes (`<prefix>:mailbox:<agent id>`). */
  readonly mailboxPrefix: string;
  /** Prefix of agents' requested-cancel sets (`<prefix>:cancels:<agent id>`). */
  readonly cancelsPrefix: string;
  /** Prefix of replica keys (`<prefix>:replica:<id>`, `...:wake`, `...:bell`). */
  readonly replicaPrefix: string;
  /** Commands by TTL deadline (zset): the expiry sweep's work list. */
  readonly commandDeadlines: string;
  /** Arrival counter that orders commands of equal priority in a mailbox. */
  readonly commandSeq: string;
  /** Commands by state (hash): active states as gauges, finished states as totals. */
  readonly commandCounts: string;
  /**
   * Prefix of the command index (zsets of command ids scored by creation time):
   * `state:<state>`, `target:<agent>`, `type:<command type>`, `corr:<correlation id>`,
   * `parent:<parent id>` (scripts/includes/commandIndex.lua writes them).
   */
  readonly indexPrefix: string;
  /** Prefix of the agent label index: `<prefix>:lbl:<term>` sets of agent ids (src/shared/selector.ts names the terms). */
  readonly labelPrefix: string;
  /** Each known agent's indexed terms (hash: agent id -> terms, one per line), so a label change or a forget removes exactly those. */
  readonly agentTerms: string;
  /** Fan-out parents with work due (zset scored by when, ms): children to launch or to cancel. */
  readonly fanoutsDue: string;
  /** `pick any` commands waiting for a free agent (zset scored like a mailbox: priority, then arrival). */
  readonly commandsWaiting: string;
  /** Prefix of a fan-out's matched agents (`<prefix>:fanout-agents:<parent id>`, zset, score 0: launch order by id). */
  readonly fanoutAgentsPrefix: string;
  /** Prefix of a fan-out's skipped (offline) agents (`<prefix>:fanout-skipped:<parent id>`, zset, score 0). */
  readonly fanoutSkippedPrefix: string;
  /**
   * Holds on agents' state transitions (hash: replica id, or `*` for every agent ->
   * `<until ms>|<reason>`); bounded by the number of replicas (docs/dampening.md).
   */
  readonly agentHolds: string;
  /** When the staleness sweep last ran (string, Redis-clock ms): a gap means pulses could not be written. */
  readonly lastSweep: string;

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
    this.commandPrefix = `${prefix}:command:`;
    this.mailboxPrefix = `${prefix}:mailbox:`;
    this.replicaPrefix = `${prefix}:replica:`;
    this.cancelsPrefix = `${prefix}:cancels:`;
    this.commandDeadlines = `${prefix}:commands:deadlines`;
    this.commandSeq = `${prefix}:commands:seq`;
    this.commandCounts = `${prefix}:commands:counts`;
    this.indexPrefix = `${prefix}:idx:`;
    this.labelPrefix = `${prefix}:lbl:`;
    this.agentTerms = `${prefix}:agents:terms`;
    this.fanoutsDue = `${prefix}:fanouts:due`;
    this.commandsWaiting = `${prefix}:commands:waiting`;
    this.fanoutAgentsPrefix = `${prefix}:fanout-agents:`;
    this.fanoutSkippedPrefix = `${prefix}:fanout-skipped:`;
    this.agentHolds = `${prefix}:agents:holds`;
    this.lastSweep = `${prefix}:agents:last-sweep`;
  }

  /** Agent record (hash): owner replica, session, epoch, state, hello fields, metrics. */
  agent(agentId: string): string {
    return this.agentPrefix + agentId;
  }

  /** Sessions an agent id started in the current rate-limit window (counter, TTL'd). */
  agentConnects(agentId: string): string {
    return `${this.prefix}:connects:${agentId}`;
  }

  /** Replica record (hash, TTL'd): address, version, start time, connected agents. */
  replica(replicaId: string): string {
    return this.replicaPrefix + replicaId;
  }

  /** Pub/sub channel on which a replica hears about its sessions (replacement, mail). */
  replicaChannel(replicaId: string): string {
    return this.replicaPrefix + replicaId + BELL_SUFFIX;
  }

  /** Agents with new mail for a replica (set, TTL'd): the durable half of the doorbell. */
  replicaWake(replicaId: string): string {
    return this.replicaPrefix + replicaId + WAKE_SUFFIX;
  }

  /** Command record (hash, TTL'd; its timeline is the `timeline` field). */
  command(commandId: string): string {
    return this.commandPrefix + commandId;
  }

  /**
   * A command's progress and log stream (stream, capped by entries, expiring with the
   * record). Entries: `kind` (`log` | `progress`), `attempt`, `at` (ms), and `line` for a log
   * line or `percent` and `message` for progress. Its own prefix: command ids may hold `:`,
   * so `<prefix>:command:<id>:log` could be another command's record.
   */
  commandLog(commandId: string): string {
    return `${this.prefix}:cmdlog:${commandId}`;
  }

  /** An agent's durable mailbox (zset of command ids, priority then arrival). */
  mailbox(agentId: string): string {
    return this.mailboxPrefix + agentId;
  }
}
