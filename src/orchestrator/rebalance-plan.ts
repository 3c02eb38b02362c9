/** A replica as the rebalancer sees it: its load and where agents can reach it. */
export interface ReplicaLoad {
  readonly replicaId: string;
  readonly address: string;
  readonly agents: number;
  readonly ready: boolean;
}

/** Where this replica stands against the fleet, and where its surplus should go. */
export interface RebalancePlan {
  /** Agents per ready replica if the fleet were even. */
  readonly fairShare: number;
  /** Agents over the fair share a replica may hold before it moves any. */
  readonly tolerance: number;
  /** Agents this replica should move now to come down to its fair share (0: none). */
  readonly surplus: number;
  /** Most moves this replica may make per second (REBALANCE_RATE, capped by admission). */
  readonly ratePerSec: number;
  /** Lighter replicas and how many agents each lacks, largest lack first. */
  readonly targets: readonly { replicaId: string; address: string; deficit: number }[];
  /** Why nothing moves, when the fleet is not in a state to rebalance. */
  readonly pausedBecause?: string;
}

export interface PlanSettings {
  readonly ratePerSec: number;
  readonly tolerancePct: number;
  /** Sessions a replica admits per second (each has the same SESSION_ADMISSION_RATE). */
  readonly admissionRatePerSec: number;
}

/**
 * Decides how many of its agents `self` should move and to which replicas. Every replica runs
 * the same plan on the same registry: when some replica holds more than the fair share plus
 * the tolerance, or less than the share minus it, each replica gets a target (the share,
 * rounded so the targets add up to the fleet; the replicas holding most keep the odd agents),
 * and each moves only its own surplus over its target. The surpluses add up to the gaps, so
 * the fleet converges without a coordinator and without a gap filled twice. The low side
 * matters: after a scale-up from 10 to 11 replicas, each old one holds exactly share + 10 %,
 * and only the empty new replica is out of bounds.
 * Nothing moves while any replica is not ready (starting, draining, cut off from Redis): a
 * rolling restart is settled first, then balanced.
 */
export function planRebalance(self: ReplicaLoad, others: readonly ReplicaLoad[], settings: PlanSettings): RebalancePlan {
  const replicas = [self, ...others.filter((r) => r.replicaId !== self.replicaId)];
  const total = replicas.reduce((n, r) => n + r.agents, 0);
  const fairShare = total / replicas.length;
  const tolerance = Math.max(1, Math.ceil((fairShare * settings.tolerancePct) / 100));
  const base = { fairShare, tolerance, surplus: 0, ratePerSec: 0, targets: [] };
  const notReady = replicas.find((r) => !r.ready);
  if (notReady) return { ...base, pausedBecause: `replica ${notReady.replicaId} is not ready` };
  const loads = replicas.map((r) => r.agents);
  if (Math.max(...loads) <= fairShare + tolerance && Math.min(...loads) >= fairShare - tolerance) return base;
  const target = shareOut(replicas, total);
  const own = self.agents - target.get(self)!;
  if (own <= 0) return base;
  const targets = replicas
    .filter((r) => r !== self && r.address !== '' && r.agents < target.get(r)!)
    .map((r) => ({ replicaId: r.replicaId, address: r.address, deficit: target.get(r)! - r.agents }))
    .sort((a, b) => b.deficit - a.deficit);
  if (targets.length === 0) return base;
  // All heavy replicas send at once; together they stay within half of what the lighter ones admit.
  const heavy = replicas.filter((r) => r.agents > target.get(r)!).length;
  const admissionCap = Math.max(1, Math.floor((settings.admissionRatePerSec * targets.length) / (2 * heavy)));
  const surplus = Math.min(own, targets.reduce((n, t) => n + t.deficit, 0));
  return { ...base, surplus, ratePerSec: Math.min(settings.ratePerSec, admissionCap), targets };
}

/** Each replica's target: ⌊total / n⌋, plus one for the replicas holding most until the rest is placed. */
function shareOut(replicas: readonly ReplicaLoad[], total: number): Map<ReplicaLoad, number> {
  const each = Math.floor(total / replicas.length);
  let rest = total - each * replicas.length;
  const byLoad = [...replicas].sort((a, b) => b.agents - a.agents || (a.replicaId < b.replicaId ? -1 : 1));
  const out = new Map<ReplicaLoad, number>();
  for (const r of byLoad) out.set(r, each + (rest-- > 0 ? 1 : 0));
  return out;
}

/**
 * Spreads `count` moves over the targets in proportion to their deficits (largest remainder
 * first), so a target is never sent more than it lacks.
 */
export function assignTargets(targets: RebalancePlan['targets'], count: number): string[] {
  const lack = targets.reduce((n, t) => n + t.deficit, 0);
  if (lack === 0 || count <= 0) return [];
  const n = Math.min(count, lack);
  const shares = targets.map((t) => ({ address: t.address, exact: (t.deficit / lack) * n, deficit: t.deficit }));
  const out: string[] = [];
  for (const s of shares) for (let i = 0; i < Math.min(Math.floor(s.exact), s.deficit); i++) out.push(s.address);
  const byRemainder = [...shares].sort((a, b) => (b.exact % 1) - (a.exact % 1));
  for (let i = 0; out.length < n && i < byRemainder.length; i++) out.push(byRemainder[i].address);
  return out;
}
