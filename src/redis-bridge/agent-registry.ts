import type Redis from 'ioredis';
import { agentTerms, matchesSelector, type Selector } from '../shared/selector';
import { parseAgentRecord, profileFields, type AgentProfile, type AgentRecord, type AgentStateName } from './agent-record';
import type { NexusKeys } from './keys';
import { decodeConnectReply, decodeFlag, decodeHeartbeatReply, decodeSweepReply, type SweepResult } from './script-replies';

/** Limits that bound the agent registry. */
export interface AgentRegistryLimits {
  /** How long an agent record lives without a write (ms); also how long offline agents are kept. */
  readonly recordTtlMs: number;
  /** Approximate cap of the events stream. */
  readonly eventsMaxLen: number;
  /** Sessions one agent id may start per window. */
  readonly reconnectLimit: number;
  readonly reconnectWindowMs: number;
}

/** An agent id started too many sessions; it may try again after `retryAfterMs`. */
export class ReconnectLimitError extends Error {
  constructor(readonly retryAfterMs: number) {
    super(`too many sessions for this agent id; retry in ${retryAfterMs} ms`);
    this.name = 'ReconnectLimitError';
    Object.setPrototypeOf(this, new.target.prototype);
  }
}

/** Who owned the agent before a new session took it over. */
export interface Takeover {
  readonly epoch: number;
  readonly previousReplica: string;
  readonly previousSession: string;
  readonly previousState: string;
  readonly nowMs: number;
}

/** One coalesced heartbeat write. */
export interface HeartbeatWrite {
  readonly agentId: string;
  readonly epoch: number;
  readonly metricsJson: string;
  readonly activeCommands: number;
}

/** Outcome of a heartbeat write: recorded, fenced (newer session owns the id), or missing record. */
export type HeartbeatOutcome = 'ok' | 'fenced' | 'missing';

/** Filters for listing agents. */
export interface AgentFilter {
  readonly state?: AgentStateName;
  readonly replicaId?: string;
  readonly agentType?: string;
  readonly idPrefix?: string;
  /** Agents this selector matches (same semantics as the label index). */
  readonly selector?: Selector;
}

/** Rules of one staleness sweep (sweepAgents-9.lua). */
export interface SweepRules {
  readonly staleAfterMs: number;
  readonly offlineAfterMs: number;
  /** Replica beat interval: a live replica silent for 2 beats holds its agents. */
  readonly replicaBeatMs: number;
  /** A previous sweep longer ago than this is a gap (pulses could not be written). */
  readonly gapAfterMs: number;
  /** Cluster hold set after a gap (0: none). */
  readonly failoverGraceMs: number;
}

/** Most agents one sweep moves per transition. */
const SWEEP_MOVE_LIMIT = 1000;
/** Most agents one sweep examines per transition (held ones included): bounds the script's run time. */
const SWEEP_SCAN_LIMIT = 5000;

/** Hard cap on records examined by one page request, so a selective filter stays cheap. */
const MAX_SCANNED_PER_PAGE = 5000;

/**
 * The cluster-wide agent registry in Redis: ownership (fencing epochs), state sets and
 * records. Every multi-key change is one Lua script; see ./scripts.
 */
export class AgentRegistry {
  constructor(
    private readonly redis: Redis,
    private readonly keys: NexusKeys,
    private readonly limits: AgentRegistryLimits,
  ) {}

  /**
   * Makes a new session the owner of `agentId` and reports who owned it before. `window`: the
   * session's in-flight window, kept in the record so routing can deliver to it at once. The
   * agent's label index terms follow the profile (selector.ts: agentTerms).
   */
  async connect(agentId: string, replicaId: string, sessionId: string, profile: AgentProfile, window: number): Promise<Takeover> {
    const k = this.keys;
    const l = this.limits;
    const reply = decodeConnectReply(await this.redis.connectAgent(
      k.agent(agentId), k.agentIndex, k.agentsOnline, k.agentsStale, k.agentsOffline, k.agentEpoch, k.events, k.agentConnects(agentId), k.mailbox(agentId), k.agentTerms,
      agentId, replicaId, sessionId, l.recordTtlMs, l.eventsMaxLen, l.reconnectLimit, l.reconnectWindowMs, k.labelPrefix, agentTerms(profile).join('\n'),
      ...profileFields(profile), 'window', window,
    ));
    if (reply.overLimit) throw new ReconnectLimitError(reply.retryAfterMs);
    const { epoch, previousReplica, previousSession, previousState, nowMs } = reply;
    return { epoch, previousReplica, previousSession, previousState, nowMs };
  }

  /** Writes a batch of heartbeats in one pipeline (one round trip). */
  async recordHeartbeats(writes: readonly HeartbeatWrite[]): Promise<HeartbeatOutcome[]> {
    if (writes.length === 0) return [];
    const k = this.keys;
    const pipeline = this.redis.pipeline();
    for (const w of writes) {
      pipeline.recordHeartbeat(
        k.agent(w.agentId), k.agentsOnline, k.agentsStale, k.agentsOffline,
        w.agentId, w.epoch, this.limits.recordTtlMs, w.metricsJson, w.activeCommands,
      );
    }
    const replies = (await pipeline.exec()) ?? [];
    return replies.map(([err, code]) => {
      if (err) throw err;
      return decodeHeartbeatReply(code);
    });
  }

  /** Marks the agent offline unless a newer session owns it; true when it was marked. */
  async disconnect(agentId: string, epoch: number, replicaId: string, reason: string): Promise<boolean> {
    const k = this.keys;
    return decodeFlag('disconnectAgent', await this.redis.disconnectAgent(
      k.agent(agentId), k.agentsOnline, k.agentsStale, k.agentsOffline, k.events,
      agentId, epoch, replicaId, reason, this.limits.recordTtlMs, this.limits.eventsMaxLen,
    ));
  }

  /**
   * Runs one staleness sweep; returns how many agents changed state (forgotten ones leave the
   * label index), how many due transitions holds kept back, and holds that ended or began
   * (docs/dampening.md).
   */
  async sweep(rules: SweepRules, replicaId: string): Promise<SweepResult> {
    const k = this.keys;
    return decodeSweepReply(await this.redis.sweepAgents(
      k.agentsOnline, k.agentsStale, k.agentsOffline, k.agentIndex, k.events, k.agentTerms, k.agentHolds, k.replicas, k.lastSweep,
      k.agentPrefix, rules.staleAfterMs, rules.offlineAfterMs, this.limits.recordTtlMs, SWEEP_MOVE_LIMIT, this.limits.eventsMaxLen, replicaId, k.labelPrefix,
      rules.replicaBeatMs, rules.gapAfterMs, rules.failoverGraceMs, SWEEP_SCAN_LIMIT,
    ));
  }

  /** Last pulses (Redis-clock ms) of agents listed online; null for an agent not online. */
  async onlineSince(agentIds: readonly string[]): Promise<(number | null)[]> {
    if (agentIds.length === 0) return [];
    const scores = await this.redis.zmscore(this.keys.agentsOnline, ...agentIds);
    return scores.map((s) => (s === null ? null : Number(s)));
  }

  /** Current session epochs of agents (0 for a missing record), in one round trip. */
  async epochs(agentIds: readonly string[]): Promise<number[]> {
    if (agentIds.length === 0) return [];
    const pipeline = this.redis.pipeline();
    for (const id of agentIds) pipeline.hget(this.keys.agent(id), 'epoch');
    const replies = (await pipeline.exec()) ?? [];
    return replies.map(([err, epoch]) => {
      if (err) throw err;
      return Number(epoch ?? 0);
    });
  }

  /** Agent counts by state over the whole cluster (three O(1) reads). */
  async counts(): Promise<Record<AgentStateName, number>> {
    const k = this.keys;
    const [[, online], [, stale], [, offline]] = ((await this.redis
      .pipeline()
      .zcard(k.agentsOnline)
      .zcard(k.agentsStale)
      .zcard(k.agentsOffline)
      .exec()) ?? []) as [unknown, number][];
    return { online, stale, offline };
  }

  /** Reads records in one round trip; missing ones are skipped. */
  async getMany(agentIds: readonly string[]): Promise<AgentRecord[]> {
    if (agentIds.length === 0) return [];
    const pipeline = this.redis.pipeline();
    for (const id of agentIds) pipeline.hgetall(this.keys.agent(id));
    const replies = (await pipeline.exec()) ?? [];
    const out: AgentRecord[] = [];
    for (const [err, hash] of replies) {
      if (err) throw err;
      const record = parseAgentRecord(hash as Record<string, string>);
      if (record) out.push(record);
    }
    return out;
  }

  /**
   * One page of agents ordered by id, after `afterId`. Scans the id index in chunks and
   * filters records, examining at most MAX_SCANNED_PER_PAGE ids per call; `nextAfterId` is
   * empty when the index is exhausted.
   */
  async page(filter: AgentFilter, pageSize: number, afterId: string): Promise<{ agents: AgentRecord[]; nextAfterId: string }> {
    const prefix = filter.idPrefix ?? '';
    const min = afterId ? `(${afterId}` : prefix ? `[${prefix}` : '-';
    // '\xff' sorts after every id byte, so [prefix, prefix\xff] bounds the prefix range.
    const max = prefix ? `[${prefix}\xff` : '+';
    const agents: AgentRecord[] = [];
    let cursor = min;
    let scanned = 0;
    while (agents.length < pageSize && scanned < MAX_SCANNED_PER_PAGE) {
      const chunk = Math.min(Math.max(pageSize - agents.length, 50), MAX_SCANNED_PER_PAGE - scanned);
      const ids = await this.redis.zrangebylex(this.keys.agentIndex, cursor, max, 'LIMIT', 0, chunk);
      if (ids.length === 0) return { agents, nextAfterId: '' };
      scanned += ids.length;
      for (const record of await this.getMany(ids)) {
        if (agents.length < pageSize && matches(record, filter)) agents.push(record);
        if (agents.length === pageSize) return { agents, nextAfterId: record.agentId };
      }
      cursor = `(${ids[ids.length - 1]}`;
      if (ids.length < chunk) return { agents, nextAfterId: '' };
    }
    return { agents, nextAfterId: cursor.slice(1) };
  }
}

function matches(record: AgentRecord, filter: AgentFilter): boolean {
  return (
    (!filter.state || record.state === filter.state) &&
    (!filter.replicaId || record.replicaId === filter.replicaId) &&
    (!filter.agentType || record.agentType === filter.agentType) &&
    (!filter.selector || matchesSelector(filter.selector, record))
  );
}
