import { NexusCluster } from './nexus-cluster';
import { cpuSeconds, rssMb } from './proc-stats';
import { scrapeReplica } from './replica-metrics';
import { median, sum } from './stats';
import { sleep } from './wait-until';

/** Phases of a fleet run, in ms: start-up, idle measurement, settling after connect, measurement. */
export interface FleetTiming {
  startMs: number;
  idleMs: number;
  settleMs: number;
  windowMs: number;
}

/** Steady state of N connected streams heartbeating at a fixed interval, seen from the server side. */
export interface FleetRun {
  streams: number;
  /** From starting the client side until every stream was connected (Nexus: agents online). */
  connectMs: number;
  /** Streams (re)started during the window: 0 for a stable fleet, more if sessions flap. */
  sessionsStartedInWindow: number;
  /** Heartbeats the server side received per second in the window (≈ streams if the clients keep up). */
  heartbeatsPerSecond: number;
  /** Server CPU in the window, % of one core (summed over replicas). */
  serverCpuPercent: number;
  /** Server CPU before any stream connected, % of one core. */
  idleCpuPercent: number;
  /** Server CPU time per heartbeat received, in µs (all the server's work, divided by heartbeats). */
  cpuPerHeartbeatUs: number;
  /** The same less the idle CPU: what the streams and their heartbeats add. */
  marginalCpuPerHeartbeatUs: number;
  /** Server RSS before any stream connected, and with all of them (median of 1 s samples), MB. */
  idleRssMb: number;
  connectedRssMb: number;
  /** (connected − idle) / streams, in KB. */
  rssPerStreamKb: number;
  /** The client side (swarm or bare client processes), % of one core: shows whether they kept up. */
  clientCpuPercent: number;
  /** Nexus only: Redis' CPU, % of one core (heartbeats are flushed there, not counted above). */
  redisCpuPercent?: number;
}

/** What the server side counted so far: heartbeats received, streams started. */
export interface ServerCounts {
  heartbeats: number;
  sessions: number;
}

/** The server side before any stream connects. */
export interface Idle {
  rssMb: number;
  cpuPercent: number;
}

/**
 * Measures the idle server side over `ms`: CPU, and RSS as the median of 0.5 s samples. Idle
 * replicas still work (beats, maintenance, readiness probes); CPU per heartbeat includes that,
 * the marginal figure does not.
 */
export async function measureIdle(pids: number[], ms: number): Promise<Idle> {
  const cpu0 = sum(pids.map(cpuSeconds));
  const t0 = performance.now();
  const rss: number[] = [];
  while (performance.now() - t0 < ms) {
    await sleep(500);
    rss.push(sum(pids.map(rssMb)));
  }
  return { rssMb: median(rss), cpuPercent: ((sum(pids.map(cpuSeconds)) - cpu0) / ((performance.now() - t0) / 1000)) * 100 };
}

/**
 * Measures a connected fleet over `windowMs`: CPU from /proc/<pid>/stat deltas, heartbeats
 * from the server's own count, RSS sampled every second (median, since GC makes it saw).
 */
export async function measureFleet(sides: { server: number[]; client: number[]; redis?: number }, streams: number, connectMs: number, idle: Idle, counts: () => Promise<ServerCounts>, windowMs: number): Promise<FleetRun> {
  const cpu = (pids: number[]) => sum(pids.map(cpuSeconds));
  const [server0, client0, redis0, c0, t0] = [cpu(sides.server), cpu(sides.client), sides.redis ? cpuSeconds(sides.redis) : 0, await counts(), performance.now()];
  const rss: number[] = [];
  while (performance.now() - t0 < windowMs) {
    await sleep(Math.min(1000, windowMs - (performance.now() - t0)));
    rss.push(sum(sides.server.map(rssMb)));
  }
  const [server1, client1, redis1, c1, t1] = [cpu(sides.server), cpu(sides.client), sides.redis ? cpuSeconds(sides.redis) : 0, await counts(), performance.now()];
  const seconds = (t1 - t0) / 1000;
  const received = c1.heartbeats - c0.heartbeats;
  if (received <= 0) throw new Error('no heartbeats reached the server in the measured window');
  const connectedMb = median(rss);
  const serverCpuPercent = ((server1 - server0) / seconds) * 100;
  return {
    streams,
    connectMs,
    sessionsStartedInWindow: c1.sessions - c0.sessions,
    heartbeatsPerSecond: received / seconds,
    serverCpuPercent,
    idleCpuPercent: idle.cpuPercent,
    cpuPerHeartbeatUs: ((server1 - server0) / received) * 1e6,
    marginalCpuPerHeartbeatUs: (((serverCpuPercent - idle.cpuPercent) / 100) * 1e6) / (received / seconds),
    idleRssMb: idle.rssMb,
    connectedRssMb: connectedMb,
    rssPerStreamKb: ((connectedMb - idle.rssMb) * 1024) / streams,
    clientCpuPercent: ((client1 - client0) / seconds) * 100,
    ...(sides.redis ? { redisCpuPercent: ((redis1 - redis0) / seconds) * 100 } : {}),
  };
}

/** The shape of the Nexus fleet: agents on 3 replicas, heartbeating every `heartbeatS`. */
export interface FleetShape {
  replicas: number;
  agents: number;
  /** The agents' HEARTBEAT_INTERVAL in s (the issue: 1); the bare client beats as often. */
  heartbeatS: number;
  /** Agents per swarm process (more agents start more processes). */
  perSwarm: number;
  /** The agents' INITIAL_BACKOFF in s: the jitter window of their reconnects (the storm's bar). */
  initialBackoffS: number;
}

/**
 * Brings up `shape.agents` agents (swarm after swarm) on fresh replicas, measures the fleet,
 * then hands the still-running cluster to `after` (the storm reuses the setup) and stops it.
 */
export async function nexusFleet<T>(redisPort: number, redisPid: number, shape: FleetShape, timing: FleetTiming, after: (cluster: NexusCluster) => Promise<T>): Promise<{ fleet: FleetRun; after: T }> {
  const cluster = await NexusCluster.start(redisPort, shape.replicas);
  try {
    const pids = cluster.replicas.map((r) => r.pid);
    await sleep(timing.startMs); // let the idle replicas finish starting (script loads, first beats)
    const idle = await measureIdle(pids, timing.idleMs);
    const connecting = performance.now();
    await cluster.startAgents('fleet', shape.agents, shape.perSwarm, { HEARTBEAT_INTERVAL: String(shape.heartbeatS), INITIAL_BACKOFF: String(shape.initialBackoffS) }, 60_000);
    await cluster.waitOnline(shape.agents, 60_000);
    const connectMs = performance.now() - connecting;
    await sleep(timing.settleMs);
    const counts = async (): Promise<ServerCounts> => {
      const samples = await Promise.all(cluster.replicas.map((r) => scrapeReplica(r.metricsPort)));
      return { heartbeats: sum(samples.map((s) => s.heartbeats)), sessions: sum(samples.map((s) => s.hellos)) };
    };
    const fleet = await measureFleet({ server: pids, client: cluster.swarms.map((s) => s.pid!), redis: redisPid }, shape.agents, connectMs, idle, counts, timing.windowMs);
    return { fleet, after: await after(cluster) };
  } finally {
    await cluster.stop();
  }
}
