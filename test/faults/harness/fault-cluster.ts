import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type Redis from 'ioredis';
import { ipv4Target, spawnAgent, spawnReplica, type Child } from '../../helpers/processes';
import { RedisServer } from '../../helpers/redis-server';
import { waitFor } from '../../helpers/wait-for';

type Replica = Awaited<ReturnType<typeof spawnReplica>>;

/** The knobs of FAULTS.md (§B) that make the suite run in minutes. */
export const FAULT_KNOBS: Record<string, string> = {
  CLAIM_MIN_IDLE_MS: '1000',
  CLAIM_SWEEP_MS: '250',
  KEEPALIVE_TIME_MS: '1000',
  KEEPALIVE_TIMEOUT_MS: '500',
  DRAIN_WINDOW_MS: '2000',
  SHUTDOWN_GRACE_MS: '8000',
  POISON_DELIVERIES: '5',
  INGRESS_BLOCK_MS: '500',
  WAKE_POLL_MS: '250',
  MAINTENANCE_INTERVAL_MS: '250',
  REDIS_LOSS_DRAIN_MS: '3000',
  LOG_LEVEL: 'warn',
};

/**
 * Keepalive for scenarios with a swarm of hundreds of agents, on both ends. The knobs' 1 s /
 * 0.5 s make one process answer hundreds of pings a second within 0.5 s during its own
 * reconnect burst; on a loaded 2-core machine it cannot, and grpc-js judges a ping's timeout
 * before it reads the socket after a stall, so links drop and the churn feeds itself. The
 * default (20 s / 10 s) is what a fleet runs with.
 */
export const FLEET_KEEPALIVE: Record<string, string> = { KEEPALIVE_TIME_MS: '20000', KEEPALIVE_TIMEOUT_MS: '10000' };

/** Redis, replicas and a swarm of agents as real processes, for fault scenarios. */
export class FaultCluster {
  readonly redis: RedisServer;
  readonly replicas = new Map<string, Replica>();
  readonly dir = mkdtempSync(join(tmpdir(), 'nexus-fault-'));
  readonly executionLogs: string[] = [];
  swarms: Child[] = [];
  db!: Redis;

  constructor(persistence: 'aof' | 'none' = 'aof') {
    this.redis = new RedisServer(persistence);
  }

  async start(replicaNames: string[], replicaEnv: Record<string, string> = {}): Promise<this> {
    await this.redis.start();
    this.db = this.redis.client();
    await Promise.all(replicaNames.map((name) => this.startReplica(name, replicaEnv)));
    return this;
  }

  /** Starts `name`; a replica started before under that name comes back on the same ports. */
  async startReplica(name: string, env: Record<string, string> = {}, redisUrl = this.redis.url, wrapper: string[] = []): Promise<Replica> {
    const before = this.replicas.get(name);
    const ports: Record<string, string> = before ? { GRPC_PORT: String(before.port), METRICS_PORT: String(before.metricsPort) } : {};
    const replica = await spawnReplica(redisUrl, { ...FAULT_KNOBS, REPLICA_ID: name, ...ports, ...env }, wrapper);
    this.replicas.set(name, replica);
    return replica;
  }

  replica(name: string): Replica {
    const r = this.replicas.get(name);
    if (!r) throw new Error(`no replica ${name}`);
    return r;
  }

  /** The ipv4: target of the given (default: all) replicas. */
  target(names = [...this.replicas.keys()]): string {
    return ipv4Target(names.map((n) => this.replica(n).port));
  }

  /** Starts `count` agents `<prefix>-1..N` in one process that logs every execution. */
  async startSwarm(prefix: string, count: number, env: Record<string, string> = {}, target = this.target(), wrapper: string[] = []): Promise<Child> {
    const log = join(this.dir, `${prefix}.jsonl`);
    this.executionLogs.push(log);
    const swarm = spawnAgent(target, { AGENT_ID: prefix, AGENT_COUNT: String(count), EXECUTION_LOG: log, LOG_LEVEL: 'warn', MAX_CONCURRENCY: '8', ...env }, wrapper);
    this.swarms.push(swarm);
    await waitFor(`${count} agents of ${prefix} online`, async () => {
      if (!swarm.running) throw new Error(`swarm exited: ${swarm.tail()}`);
      const ids = await this.db.zrange('nexus:agents:online', '0', '-1');
      return ids.filter((id) => id.startsWith(`${prefix}-`)).length === count;
    }, { timeoutMs: 60_000, intervalMs: 200 });
    return swarm;
  }

  agentIds(prefix: string, count: number): string[] {
    return Array.from({ length: count }, (_, i) => `${prefix}-${i + 1}`);
  }

  async stop(): Promise<void> {
    await Promise.all(this.swarms.map((s) => s.stop()));
    await Promise.all([...this.replicas.values()].map((r) => r.stop()));
    this.db?.disconnect();
    await this.redis.destroy();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
