import type { Counter, Gauge } from 'prom-client';
import type { Logger } from '../shared/logger';
import type { ReplicaRecord } from '../redis-bridge/replica-registry';
import { assignTargets, planRebalance, type RebalancePlan } from './rebalance-plan';
import type { Session } from './session';
import type { SessionDrain } from './session-drain';
import type { SessionRegistry } from './session-registry';

/** How often the rebalancer looks (its moves are spread over this much time). */
export const REBALANCE_TICK_MS = 1000;
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
  readonly replicas: () => Promise<ReplicaRecord[]>;
  /** This replica runs and reaches Redis (else it neither moves nor is a target). */
  readonly active: () => boolean;
  readonly moves: Counter<'reason'>;
  readonly fairShare: Gauge;
  readonly logger: Logger;
}

/**
 * Moves agents off this replica when it holds more than its fair share of the fleet (see
 * planRebalance): once a second, up to REBALANCE_RATE of its settled sessions, idle ones first,
 * are told to reconnect to a lighter replica (the drain's `reconnect_to`) after a delay spread
 * over the next second. Also ends sessions older than MAX_SESSION_AGE_MS, so a long-lived fleet
 * spreads out even with rebalancing off.
 */
export class Rebalancer {
  /** Each session's end of life under MAX_SESSION_AGE_MS (jittered once, when first seen). */
  private readonly ageLimit = new WeakMap<Session, number>();
  /** Moves allowed but not made yet (fractions of a move carry to the next tick). */
  private budget = 0;
  private moving = false;

  constructor(private readonly settings: RebalancerSettings, private readonly deps: RebalancerDeps) {}

  /** Whether there is anything to do at all (both features off: no ticker). */
  get enabled(): boolean {
    return this.settings.ratePerSec > 0 || this.settings.maxSessionAgeMs > 0;
  }

  readonly tick = async (): Promise<void> => {
    if (!this.deps.active()) return;
    const replicas = await this.deps.replicas();
    if (!this.deps.active()) return;
    const now = performance.now();
    if (this.settings.maxSessionAgeMs > 0) this.endOldSessions(now, replicas);
    if (this.settings.ratePerSec > 0) this.rebalance(now, replicas);
  };

  private rebalance(now: number, replicas: readonly ReplicaRecord[]): void {
    const { settings, deps } = this;
    const live = this.liveSessions();
    const plan = planRebalance(
      { replicaId: settings.replicaId, address: settings.address, agents: live.length, ready: true },
      replicas.map((r) => ({ replicaId: r.replicaId, address: r.address, agents: r.connectedAgents, ready: r.ready })),
      settings,
      this.moving,
    );
    deps.fairShare.set(plan.fairShare);
    if (plan.surplus === 0) {
      if (this.moving) deps.logger.info({ agents: live.length, fairShare: round(plan.fairShare), pausedBecause: plan.pausedBecause }, 'rebalancing done');
      this.moving = false;
      this.budget = 0;
      return;
    }
    if (!this.moving) {
      deps.logger.info({ agents: live.length, fairShare: round(plan.fairShare), tolerance: plan.tolerance, surplus: plan.surplus, ratePerSec: plan.ratePerSec, to: targetsOf(plan) }, 'holding more than the fair share: moving agents to lighter replicas');
      this.moving = true;
    }
    this.budget = Math.min(this.budget + plan.ratePerSec * (REBALANCE_TICK_MS / 1000), plan.ratePerSec);
    const count = Math.min(Math.floor(this.budget), plan.surplus);
    const chosen = this.candidates(live, now).slice(0, count);
    const addresses = assignTargets(plan.targets, chosen.length);
    for (let i = 0; i < addresses.length; i++) {
      deps.drain.tell(chosen[i], Math.floor(Math.random() * REBALANCE_TICK_MS), 'rebalance', addresses[i]);
      deps.moves.labels('rebalance').inc();
    }
    this.budget -= addresses.length;
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

function round(n: number): number {
  return Math.round(n * 10) / 10;
}

function targetsOf(plan: RebalancePlan): Record<string, number> {
  return Object.fromEntries(plan.targets.map((t) => [t.replicaId, t.deficit]));
}
