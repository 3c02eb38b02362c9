import type { NexusCluster } from './nexus-cluster';
import { cpuSeconds } from './proc-stats';
import { scrapeReplica, type ReplicaSample } from './replica-metrics';
import { peakPerSecond } from './stats';
import { sleep, waitUntil } from './wait-until';

/** A reconnect storm: the busiest replica SIGKILLed, its agents coming back on the survivors. */
export interface StormRun {
  killed: string;
  /** Sessions the killed replica held. */
  agentsOnKilled: number;
  agents: number;
  /** The agents' INITIAL_BACKOFF: their reconnect delay is drawn from [0, this). Bar: back within this + 5 s. */
  jitterWindowMs: number;
  /** From the SIGKILL until the survivors hold every agent. */
  backMs: number;
  /** Most new sessions (hellos) the survivors accepted in any 1 s span. */
  peakSessionsPerSecond: number;
  /** Survivors' event-loop lag during the storm: the max, and the worst per-poll p99. */
  lagMaxMs: number;
  lagP99Ms: number;
  /** Streams the survivors pushed back (admission limit, per-id limit) during the storm. */
  rejected: number;
  /** Hellos on the survivors during the storm: agentsOnKilled if every agent got back at once, more if sessions flapped. */
  sessionsStarted: number;
  /** About once a second: [s since the kill, sessions held by the survivors, hellos since the kill]. */
  timeline: [number, number, number][];
  /** The most frequent warnings the replicas and swarms logged during the storm. */
  logged: string;
  /**
   * CPU during the storm, % of one core, summed: survivors and swarm processes. Near the
   * machine's cores means everything was starved, agents included (they share the machine here).
   */
  cpuPercent: { survivors: number; swarms: number };
  /**
   * The machine's bare grpc-js connect rate in the same round: agentsOnKilled streams opened
   * on 2 bare server processes by one client process, right after the storm (set by the bench).
   */
  bare?: { streams: number; connectMs: number };
}

/**
 * A scrape costs a replica holding ~1,700 agents about 8 ms of CPU (prom-client's default
 * metrics list every open fd and handle): polled every 100 ms, the two survivors lost ~8 % of
 * this 2-core machine to the measurement during the storm.
 */
const POLL_MS = 250;

/**
 * SIGKILLs the replica holding the most agents and polls the survivors' /metrics every 250 ms
 * until their nexus_connected_agents add up to every agent. Throws after `timeoutMs`.
 */
export async function stormAfterKill(cluster: NexusCluster, agents: number, jitterWindowMs: number, timeoutMs: number): Promise<StormRun> {
  // Start from a whole fleet: every agent held by some replica (a few may be mid-reconnect).
  let before: ReplicaSample[] = [];
  await waitUntil(`all ${agents} sessions held before the kill`, async () => {
    before = await Promise.all(cluster.replicas.map((r) => scrapeReplica(r.metricsPort)));
    return before.reduce((a, s) => a + s.connected, 0) === agents;
  }, 15_000, 200);
  const busiest = before.indexOf(before.reduce((a, b) => (b.connected > a.connected ? b : a)));
  const victim = cluster.replicas[busiest];
  const survivors = cluster.replicas.filter((r) => r !== victim);
  // A scrape right before the kill also resets the survivors' event-loop histograms.
  const total = (xs: ReplicaSample[], f: (s: ReplicaSample) => number) => xs.reduce((a, s) => a + f(s), 0);
  const base = await Promise.all(survivors.map((r) => scrapeReplica(r.metricsPort)));
  const samples = [{ t: 0, hellos: total(base, (s) => s.hellos) }];
  const timeline: [number, number, number][] = [[0, total(base, (s) => s.connected), 0]];
  const logsBefore = cluster.logCounts();
  const cpu = (pids: number[]) => pids.reduce((a, pid) => a + cpuSeconds(pid), 0);
  const [survivorPids, swarmPids] = [survivors.map((r) => r.pid), cluster.swarms.map((p) => p.pid!)];
  const [survivorCpu0, swarmCpu0] = [cpu(survivorPids), cpu(swarmPids)];
  const killedAt = performance.now();
  await cluster.kill(victim);
  let lagMaxS = 0;
  let lagP99S = 0;
  let last = base;
  for (;;) {
    await sleep(POLL_MS);
    last = await Promise.all(survivors.map((r) => scrapeReplica(r.metricsPort)));
    const t = performance.now() - killedAt;
    samples.push({ t, hellos: total(last, (s) => s.hellos) });
    const held = total(last, (s) => s.connected);
    if (t >= timeline[timeline.length - 1][0] * 1000 + 1000 || held >= agents) timeline.push([Math.round(t / 100) / 10, held, samples[samples.length - 1].hellos - samples[0].hellos]);
    lagMaxS = Math.max(lagMaxS, ...last.map((s) => s.lagMaxS));
    lagP99S = Math.max(lagP99S, ...last.map((s) => s.lagP99S));
    if (held >= agents) {
      return {
        killed: victim.id,
        agentsOnKilled: before[busiest].connected,
        agents,
        jitterWindowMs,
        backMs: t,
        peakSessionsPerSecond: peakPerSecond(samples),
        lagMaxMs: lagMaxS * 1000,
        lagP99Ms: lagP99S * 1000,
        rejected: total(last, (s) => s.rejected) - total(base, (s) => s.rejected),
        sessionsStarted: samples[samples.length - 1].hellos - samples[0].hellos,
        timeline,
        logged: cluster.logSummary(logsBefore),
        cpuPercent: { survivors: ((cpu(survivorPids) - survivorCpu0) / t) * 1e5, swarms: ((cpu(swarmPids) - swarmCpu0) / t) * 1e5 },
      };
    }
    if (t > timeoutMs) throw new Error(`storm: only ${held} of ${agents} agents back on the survivors ${Math.round(t)} ms after the kill; ${cluster.logSummary(logsBefore)}`);
  }
}
