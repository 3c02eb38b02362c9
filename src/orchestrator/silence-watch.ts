import type { Logger } from '../shared/logger';
import type { AgentHolds } from '../redis-bridge/agent-holds';
import type { AgentRegistry } from '../redis-bridge/agent-registry';
import type { OrchestratorMetrics } from './metrics';
import type { Session } from './session';
import type { SessionRegistry } from './session-registry';

/** What the watch needs from the config. */
export interface SilenceSettings {
  readonly replicaId: string;
  /** The window abrupt ends are counted in. */
  readonly stalenessThresholdMs: number;
  /** More than this share silent starts a hold; 0: the watch is off. */
  readonly dampenSilentShare: number;
  readonly dampenMinAgents: number;
  readonly dampenMaxMs: number;
  /** Stragglers get this long to come back once the silence is no longer mass (FAILOVER_GRACE_MS). */
  readonly failoverGraceMs: number;
}

/** A session of this replica that ended without goodbye (it may be a partition). */
interface AbruptEnd {
  readonly epoch: number;
  readonly reason: string;
  /** Monotonic time it ended. */
  readonly at: number;
  /** Monotonic time the agent was last heard from. */
  readonly lastHeardAt: number;
  /** Its offline is not written yet: it waits for the settle delay, or for the sweep under a hold. */
  pending: boolean;
}

/** This replica's mass-silence hold. */
interface ActiveHold {
  /** Monotonic time it began (the bound is judged on it). */
  readonly startedAt: number;
  /** Redis-clock time it began: an online pulse newer than this is a pulse again. */
  readonly redisStartMs: number;
  /** The agents that were silent, or fell silent while holding. */
  readonly missing: Set<string>;
  /** How many agents the replica had when it began. */
  of: number;
  /** Monotonic time the silence stopped being mass while some agents are still missing. */
  clearingSince?: number;
}

/**
 * Notices mass silence on this replica (docs/dampening.md): more than DAMPEN_SILENT_SHARE of
 * its agents (at least DAMPEN_MIN_AGENTS) silent for 2 heartbeat intervals or gone without
 * goodbye within one staleness window. Then it holds its own agents in Redis (one
 * `dampening_started`), and their ends are left to the sweep, which holds them too: delayed,
 * not lost. The hold ends when enough of them pulse again, anywhere (`dampening_ended`,
 * `cleared`), or at DAMPEN_MAX_MS (the sweep removes it, reason `bound`).
 *
 * An abrupt end is written offline only after the same 2 heartbeat intervals a silent session
 * gets, so one tick sees a partition's whole burst before anything is written; with fewer
 * agents than DAMPEN_MIN_AGENTS (no mass silence possible) it is written at once.
 */
export class SilenceWatch {
  private readonly ended = new Map<string, AbruptEnd>();
  private hold: ActiveHold | undefined;
  private readonly silentAfterMs: number;
  /**
   * When the last hold ran out at DAMPEN_MAX_MS: agents silent since before then do not count
   * again, or a partition that outlasts the bound would start hold after hold.
   */
  private boundAt = -Infinity;

  constructor(
    private readonly sessions: SessionRegistry,
    private readonly agents: AgentRegistry,
    private readonly holds: AgentHolds,
    private readonly settings: SilenceSettings,
    /** The heartbeat interval agents are told in Welcome. */
    heartbeatMs: number,
    /** Writes an agent offline unless a newer session owns it (disconnectAgent). */
    private readonly markOffline: (agentId: string, epoch: number, reason: string) => Promise<unknown>,
    private readonly metrics: OrchestratorMetrics,
    private readonly logger: Logger,
  ) {
    this.silentAfterMs = 2 * heartbeatMs;
  }

  /** How often tick() should run: about once a second, faster with short heartbeats. */
  static tickMs(heartbeatMs: number): number {
    return Math.max(100, Math.min(1000, Math.floor(heartbeatMs / 2)));
  }

  /** Whether this replica holds its agents now. */
  get holding(): boolean {
    return this.hold !== undefined;
  }

  /**
   * A session ended without goodbye. Returns true when the watch takes its offline write
   * over (deferred, or left to the sweep under a hold); false: write it now.
   */
  sessionEnded(session: Session, reason: string): boolean {
    const { dampenSilentShare, dampenMinAgents } = this.settings;
    if (dampenSilentShare === 0) return false;
    if (!this.hold && this.sessions.size + this.ended.size + 1 < dampenMinAgents) return false;
    this.ended.set(session.agentId, { epoch: session.epoch, reason, at: performance.now(), lastHeardAt: session.lastHeardAt, pending: !this.hold });
    this.hold?.missing.add(session.agentId);
    return true;
  }

  async tick(): Promise<void> {
    if (this.settings.dampenSilentShare === 0) return;
    const now = performance.now();
    this.forgetOld(now);
    const silent = this.silentNow(now);
    if (this.hold) return this.track(now, silent);
    const missing = [...silent, ...(await this.stillGone(silent.length))];
    const total = this.sessions.size + [...this.ended.keys()].filter((id) => !this.sessions.get(id)).length;
    this.metrics.silentAgents.set(missing.length);
    if (this.isMass(missing.length, total)) return this.begin(now, missing, total);
    await this.writeSettled(now);
  }

  /** Writes every deferred end (shutdown). */
  async close(): Promise<void> {
    await this.writeSettled(Infinity);
  }

  private isMass(missing: number, of: number): boolean {
    const { dampenSilentShare, dampenMinAgents } = this.settings;
    return missing >= dampenMinAgents && missing > dampenSilentShare * of;
  }

  /** Live sessions of this replica that said nothing for 2 heartbeat intervals. */
  private silentNow(now: number): string[] {
    const out: string[] = [];
    for (const s of this.sessions.values()) {
      if (s.state === 'live' && now - s.lastHeardAt > this.silentAfterMs && s.lastHeardAt >= this.boundAt) out.push(s.agentId);
    }
    return out;
  }

  /** Drops ends older than the staleness window (written ones), and agents back on this replica. */
  private forgetOld(now: number): void {
    for (const [id, end] of this.ended) {
      const back = this.sessions.get(id);
      if ((back && back.epoch > end.epoch) || (!end.pending && now - end.at > this.settings.stalenessThresholdMs)) this.ended.delete(id);
    }
  }

  /**
   * Ended agents that have not started a session anywhere since (their epoch is unchanged),
   * leaving out those already held until the last bound. Asks Redis only when they could tip
   * the count (`silent` others are silent already).
   */
  private async stillGone(silent: number): Promise<string[]> {
    const ids = [...this.ended].filter(([, end]) => end.lastHeardAt >= this.boundAt).map(([id]) => id);
    if (ids.length + silent < this.settings.dampenMinAgents) return ids;
    const epochs = await this.agents.epochs(ids);
    const gone: string[] = [];
    ids.forEach((id, i) => {
      const end = this.ended.get(id);
      if (end && epochs[i] > end.epoch) this.ended.delete(id);
      else gone.push(id);
    });
    return gone;
  }

  private async begin(now: number, missing: string[], of: number): Promise<void> {
    const { replicaId, dampenMaxMs } = this.settings;
    const { nowMs } = await this.holds.hold(replicaId, dampenMaxMs, 'mass_silence', { agents_silent: missing.length, of });
    this.hold = { startedAt: now, redisStartMs: nowMs, missing: new Set(missing), of };
    // Their ends are the sweep's now, and the sweep holds them.
    for (const end of this.ended.values()) end.pending = false;
    this.metrics.dampeningActive.set(1);
    this.metrics.holdsStarted.labels('mass_silence').inc();
    this.logger.warn({ agentsSilent: missing.length, of, holdMs: dampenMaxMs }, 'dampening started: mass silence on this replica; its agents\' offline transitions are held');
  }

  /** While holding: follow the missing agents; end on their return or at the bound. */
  private async track(now: number, silent: string[]): Promise<void> {
    const hold = this.hold!;
    for (const id of silent) hold.missing.add(id);
    hold.of = Math.max(hold.of, this.sessions.size);
    if (now - hold.startedAt >= this.settings.dampenMaxMs) {
      // The sweep removes the hold at its until (`dampening_ended`, reason `bound`).
      this.boundAt = now - this.silentAfterMs;
      this.end(`dampening ended: DAMPEN_MAX_MS passed; ${hold.missing.size} held agents go stale and offline as usual`);
      return;
    }
    const ids = [...hold.missing];
    const pulses = await this.agents.onlineSince(ids);
    ids.forEach((id, i) => {
      const local = this.sessions.get(id);
      const heardHere = local !== undefined && local.state === 'live' && now - local.lastHeardAt <= this.silentAfterMs;
      if (heardHere || (pulses[i] ?? 0) > hold.redisStartMs) hold.missing.delete(id);
    });
    this.metrics.silentAgents.set(hold.missing.size);
    if (this.isMass(hold.missing.size, hold.of)) {
      hold.clearingSince = undefined;
      return;
    }
    // The partition healed: the last agents are still in their reconnect backoff. Give them the
    // failover grace before the sweep may move them, unless every one is back already.
    hold.clearingSince ??= now;
    if (hold.missing.size > 0 && now - hold.clearingSince < this.settings.failoverGraceMs) return;
    await this.holds.release(this.settings.replicaId, 'mass_silence', { agents_silent: hold.missing.size, of: hold.of });
    this.end(`dampening ended: agents pulse again; ${hold.missing.size} still silent are left to the sweep`);
  }

  private end(message: string): void {
    this.logger.warn({ stillSilent: this.hold?.missing.size }, message);
    this.hold = undefined;
    this.ended.clear();
    this.metrics.dampeningActive.set(0);
  }

  /** Writes deferred ends that waited the settle delay (2 heartbeat intervals). */
  private async writeSettled(now: number): Promise<void> {
    const due: [string, AbruptEnd][] = [];
    for (const [id, end] of this.ended) if (end.pending && now - end.at >= this.silentAfterMs) due.push([id, end]);
    for (const [, end] of due) end.pending = false;
    await Promise.all(due.map(([id, end]) => this.markOffline(id, end.epoch, end.reason)));
  }
}
