import type { Counter, Gauge } from 'prom-client';
import type { Logger } from '../shared/logger';
import type { ReplicaRecord } from '../redis-bridge/replica-registry';
import { assignTargets, planRebalance, type RebalancePlan } from './rebalance-plan';
import type { Session } from './session';
import type { SessionDrain } from './session-drain';
import type { SessionRegistry } from './session-registry';

/** How often the rebalancer looks (its moves are spread over this much time). */
export const REBALANCE_TICK_MS = 1000;
/**
 * After a round of moves, how long a replica waits before it plans again: moved agents leave
 * within a tick, connect, and their new replica publishes its count within another; planning
 * earlier would count them nowhere and move too many.
 */
const COOLDOWN_MS = 3 * REBALANCE_TICK_MS;
/** Sessions end between 90 % and 100 % of MAX_SESSION_AGE_MS, so a fleet that connected together does not leave together. */
const AGE_JITTER = 0.1;

export interface RebalancerSettings {
  readonly replicaId: string;
  readonly address: string;
  /** REBALANCE_RATE: moves per second at most; 0 = no rebalancing. */
  readonly ratePerSec: number;
  readonly tolerancePct: number;
  /** REBALANCE_SETTLE_MS: a session younger than this is never moved. */
  readonly settleMs: number;
  /** MAX_SESSION_AGE_MS: 0 = sessions live as long as they like. */
  readonly maxSessionAgeMs: number;
  readonly admissionRatePerSec: number;
}

export interface RebalancerDeps {
  readonly sessions: SessionRegistry;
  readonly drain: SessionDrain;
  /** Every live replica's record. */
  readonly replicas: () => Promise<ReplicaRecord[]>;
  /** A reason not to move agents now (dampening holds agents somewhere: the fleet is not in a steady state), or undefined. */
  readonly unsettled: () => Promise<string | undefined>;
  /** Publishes how many agents this replica holds (between its beats). */
  readonly publish: (connectedAgents: number) => Promise<void>;
  /** This replica runs and reaches Redis (else it neither moves nor is a target). */
  readonly active: () => boolean;
  readonly moves: Counter<'reason'>;
  readonly fairShare: Gauge;
  readonly logger: Logger;
}

/** A round of moves: decided once, on one view of the fleet, then carried out at the rate. */
interface Round {
  left: number;
  ratePerSec: number;
  targets: { replicaId: string; address: string; deficit: number }[];
}

/**
 * Moves agents off this replica when it holds more than its fair share of the fleet (see
 * planRebalance). A round decides the surplus once; then, once a second, up to REBALANCE_RATE
 * settled sessions (older than REBALANCE_SETTLE_MS), idle ones first, are told to reconnect to
 * a lighter replica (the drain's `reconnect_to`) after a delay spread over the next second.
 * After a round it waits for the moved agents to be counted where they landed before it plans
 * again. Also ends sessions older than MAX_SESSION_AGE_MS, so a long-lived fleet spreads out
 * even with rebalancing off.
 */
export class Rebalancer {
  /** Each session's end of life under MAX_SESSION_AGE_MS (jittered once, when first seen). */
  private readonly ageLimit = new WeakMap<Session, number>();
  private round: Round | undefined;
  /** Moves allowed but not made yet (fractions of a move carry to the next tick). */
  private budget = 0;
  private coolUntil = 0;

  constructor(private readonly settings: RebalancerSettings, private readonly deps: RebalancerDeps) {}

  /** Whether there is anything to do at all (both features off: no ticker). */
  get enabled(): boolean {
    return this.settings.ratePerSec > 0 || this.settings.maxSessionAgeMs > 0;
  }

  readonly tick = async (): Promise<void> => {
    if (!this.deps.active()) return;
    if (this.settings.ratePerSec > 0) await this.deps.publish(this.deps.sessions.size);
    const replicas = await this.deps.replicas();
    if (!this.deps.active()) return;
    const now = performance.now();
    if (this.settings.maxSessionAgeMs > 0) this.endOldSessions(now, replicas);
    if (this.settings.ratePerSec === 0) return;
    const unsettled = await this.deps.unsettled();
    if (unsettled) {
      if (this.round) this.endRound(now, `paused: ${unsettled}`);
      return;
    }
    this.rebalance(now, replicas);
  };

  private rebalance(now: number, replicas: readonly ReplicaRecord[]): void {
    const { settings, deps } = this;
    const live = this.liveSessions();
    const plan = planRebalance(
      { replicaId: settings.replicaId, address: settings.address, agents: live.length, ready: true },
      replicas.map((r) => ({ replicaId: r.replicaId, address: r.address, agents: r.connectedAgents, ready: r.ready })),
      settings,
    );
    deps.fairShare.set(plan.fairShare);
    if (this.round && plan.pausedBecause) this.endRound(now, `paused: ${plan.pausedBecause}`);
    if (!this.round) {
      if (now < this.coolUntil || plan.surplus === 0) return;
      this.round = { left: plan.surplus, ratePerSec: plan.ratePerSec, targets: plan.targets.map((t) => ({ ...t })) };
      this.budget = 0;
      deps.logger.info({ agents: live.length, fairShare: round1(plan.fairShare), tolerance: plan.tolerance, moving: plan.surplus, ratePerSec: plan.ratePerSec, to: targetsOf(plan) }, 'above its share of the fleet: moving agents to lighter replicas');
    }
    const r = this.round;
    // Only to replicas still there and ready.
    const ready = new Set(replicas.filter((x) => x.ready).map((x) => x.replicaId));
    r.targets = r.targets.filter((t) => ready.has(t.replicaId) && t.deficit > 0);
    this.budget = Math.min(this.budget + r.ratePerSec * (REBALANCE_TICK_MS / 1000), r.ratePerSec);
    const count = Math.min(Math.floor(this.budget), r.left);
    const chosen = this.candidates(live, now).slice(0, count);
    const addresses = assignTargets(r.targets, chosen.length);
    for (let i = 0; i < addresses.length; i++) {
      deps.drain.tell(chosen[i], Math.floor(Math.random() * REBALANCE_TICK_MS), 'rebalance', addresses[i]);
      const target = r.targets.find((t) => t.address === addresses[i]);
      if (target) target.deficit--;
    }
    deps.moves.labels('rebalance').inc(addresses.length);
    this.budget -= addresses.length;
    r.left -= addresses.length;
    if (r.left === 0) this.endRound(now, 'done');
    else if (addresses.length < count) this.endRound(now, chosen.length < count ? 'no more settled sessions' : 'no lighter replica left');
  }

  private endRound(now: number, why: string): void {
    this.deps.logger.info({ agents: this.deps.sessions.size, notMoved: this.round?.left ?? 0, why }, 'rebalancing round over');
    this.round = undefined;
    this.coolUntil = now + COOLDOWN_MS;
  }

  /** Settled sessions (older than REBALANCE_SETTLE_MS), idle ones first, then the longest connected. */
  private candidates(live: Session[], now: number): Session[] {
    return live
      .filter((s) => now - s.startedAt >= this.settings.settleMs)
      .sort((a, b) => Number(a.inflight > 0) - Number(b.inflight > 0) || a.startedAt - b.startedAt);
  }

  private endOldSessions(now: number, replicas: readonly ReplicaRecord[]): void {
    const { maxSessionAgeMs } = this.settings;
    // To the least loaded ready replica; none when this one is it.
    const lightest = replicas.filter((r) => r.ready && r.address !== '').sort((a, b) => a.connectedAgents - b.connectedAgents)[0];
    const hint = lightest && lightest.replicaId !== this.settings.replicaId && lightest.connectedAgents < this.deps.sessions.size ? lightest.address : '';
    for (const session of this.liveSessions()) {
      let limit = this.ageLimit.get(session);
      if (limit === undefined) this.ageLimit.set(session, (limit = session.startedAt + maxSessionAgeMs * (1 - AGE_JITTER * Math.random())));
      // A busy session gets a tenth of its age more to finish what it runs.
      if (now < limit || (session.inflight > 0 && now < limit + maxSessionAgeMs * AGE_JITTER)) continue;
      this.deps.drain.tell(session, Math.floor(Math.random() * REBALANCE_TICK_MS), 'max session age', hint);
      this.deps.moves.labels('max_age').inc();
    }
  }

  private liveSessions(): Session[] {
    const out: Session[] = [];
    for (const s of this.deps.sessions.values()) if (s.state === 'live') out.push(s);
    return out;
  }
}

function round1(n: number): number {
  return Math.round(n * 10) / 10;
}

function targetsOf(plan: RebalancePlan): Record<string, number> {
  return Object.fromEntries(plan.targets.map((t) => [t.replicaId, t.deficit]));
}
