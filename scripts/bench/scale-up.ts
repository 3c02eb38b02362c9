import { NexusCluster } from './nexus-cluster';
import { scrapeReplica, type ReplicaSample } from './replica-metrics';
import { peakPerSecond } from './stats';
import { sleep, waitUntil } from './wait-until';

/** A scale-up: a replica added to a settled fleet, and how the rebalancer evens it out. */
export interface ScaleUpRun {
  agents: number;
  /** Replicas before the new one. */
  replicasBefore: number;
  /** Agents per replica right before the new replica started, and once settled. */
  before: number[];
  after: number[];
  /** Fair share ± tolerance (REBALANCE_TOLERANCE_PCT of it) the fleet had to reach. */
  fairShare: number;
  tolerance: number;
  /** From the new replica reporting ready until every replica held its share ± the tolerance. */
  settleMs: number;
  /** Agents the replicas told to move (nexus_rebalance_moves_total{reason="rebalance"}) until settled, and moves in the observation window after. */
  moves: number;
  movesAfterSettled: number;
  /** Most new sessions (hellos, all replicas) in any 1 s span, against what one replica admits per second. */
  peakSessionsPerSecond: number;
  admissionRate: number;
  /** Streams pushed back (admission) during the scale-up. */
  rejected: number;
  /** The most frequent warnings of replicas and agents during the scale-up. */
  logged: string;
  /** About once a second: [s since the new replica was ready, agents held by each replica]. */
  timeline: [number, number[]][];
}

export interface ScaleUpShape {
  replicas: number;
  agents: number;
  perSwarm: number;
  /** The agents' heartbeat interval: their default (10 s), as a fleet runs. */
  heartbeatS: number;
  /** REBALANCE_SETTLE_MS for the run (the fleet waits this long after connecting). */
  settleMs: number;
}

const POLL_MS = 100;
/** How long the fleet is watched after it settled, to see that nothing moves any more. */
const OBSERVE_MS = 5000;
const TOLERANCE_PCT = 10;
const ADMISSION_RATE = 1000;

/**
 * Starts `shape.replicas` replicas and the fleet, waits until the sessions are settled (older
 * than REBALANCE_SETTLE_MS) and spread, then adds one replica and polls every /metrics each
 * 100 ms until each replica holds its fair share ± the tolerance. Rebalancing runs with its
 * defaults (REBALANCE_RATE 50 per replica per second).
 */
export async function scaleUp(redisPort: number, shape: ScaleUpShape, timeoutMs: number): Promise<ScaleUpRun> {
  const env = { REBALANCE_SETTLE_MS: String(shape.settleMs), REBALANCE_TOLERANCE_PCT: String(TOLERANCE_PCT), SESSION_ADMISSION_RATE: String(ADMISSION_RATE) };
  const cluster = await NexusCluster.start(redisPort, shape.replicas, env);
  try {
    await cluster.startAgents('su', shape.agents, shape.perSwarm, { HEARTBEAT_INTERVAL: String(shape.heartbeatS), INITIAL_BACKOFF: '1' }, 120_000);
    await cluster.waitOnline(shape.agents, 120_000);
    const held = async (): Promise<ReplicaSample[]> => Promise.all(cluster.replicas.map((r) => scrapeReplica(r.metricsPort)));
    // Every session settled, and every agent held (the fleet's own placement is random).
    await sleep(shape.settleMs);
    await waitUntil(`all ${shape.agents} sessions held before the scale-up`, async () => (await held()).reduce((a, s) => a + s.connected, 0) === shape.agents, 30_000, 200);
    const base = await held();
    const fairShare = shape.agents / (shape.replicas + 1);
    const tolerance = Math.max(1, Math.ceil((fairShare * TOLERANCE_PCT) / 100));

    await cluster.addReplica(env);
    const startedAt = performance.now();
    const total = (xs: ReplicaSample[], f: (s: ReplicaSample) => number) => xs.reduce((a, s) => a + f(s), 0);
    const baseHellos = total(base, (s) => s.hellos);
    const logsBefore = cluster.logCounts();
    const samples = [{ t: 0, hellos: baseHellos }];
    let last = base;
    const timeline: [number, number[]][] = [[0, base.map((s) => s.connected)]];
    let settledAt: number | undefined;
    let movesAtSettle = 0;
    for (;;) {
      await sleep(POLL_MS);
      last = await held();
      const t = performance.now() - startedAt;
      samples.push({ t, hellos: total(last, (s) => s.hellos) });
      if (t >= timeline[timeline.length - 1][0] * 1000 + 1000) timeline.push([Math.round(t / 100) / 10, last.map((s) => s.connected)]);
      const even = total(last, (s) => s.connected) === shape.agents && last.every((s) => Math.abs(s.connected - fairShare) <= tolerance);
      if (settledAt === undefined && even) {
        settledAt = t;
        movesAtSettle = total(last, (s) => s.moves) - total(base, (s) => s.moves);
      }
      if (settledAt !== undefined && t - settledAt >= OBSERVE_MS) break;
      if (settledAt === undefined && t > timeoutMs) throw new Error(`scale-up: not settled ${Math.round(t)} ms after the new replica (agents per replica ${last.map((s) => s.connected).join(', ')}; ${cluster.logSummary()})`);
    }
    return {
      agents: shape.agents,
      replicasBefore: shape.replicas,
      before: base.map((s) => s.connected),
      after: last.map((s) => s.connected),
      fairShare,
      tolerance,
      settleMs: settledAt,
      moves: movesAtSettle,
      movesAfterSettled: total(last, (s) => s.moves) - total(base, (s) => s.moves) - movesAtSettle,
      peakSessionsPerSecond: peakPerSecond(samples),
      admissionRate: ADMISSION_RATE,
      rejected: total(last, (s) => s.rejected) - total(base, (s) => s.rejected),
      logged: cluster.logSummary(logsBefore),
      timeline,
    };
  } finally {
    await cluster.stop();
  }
}
