import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Redis from 'ioredis';
import { freePort } from '../lib/free-port';
import { scrapeReplica } from './replica-metrics';
import { waitUntil } from './wait-until';

const DIST = join(__dirname, '..', '..', 'src');

/** One replica process of a benchmark cluster. */
export interface BenchReplica {
  id: string;
  proc: ChildProcess;
  pid: number;
  grpcPort: number;
  /** Its /metrics port: the scenarios read counters and event-loop lag there. */
  metricsPort: number;
}

/**
 * Replica processes and agent swarm processes on a private Redis, for the benchmarks. Every
 * child is killed by PID in stop(); the caller owns the Redis.
 */
export class NexusCluster {
  readonly redis: Redis;
  readonly replicas: BenchReplica[] = [];
  readonly swarms: ChildProcess[] = [];
  /** Ids of every agent started, in start order. */
  readonly agentIds: string[] = [];
  /** Every child's warnings and errors go to a file here, so a failed wait can say why. */
  private readonly logDir = mkdtempSync(join(tmpdir(), 'nexus-bench-logs-'));

  /** Node options for every child from `NEXUS_BENCH_NODE_ARGS` (e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`). */
  private readonly childArgs = (process.env.NEXUS_BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean);

  private constructor(private readonly redisPort: number, private readonly nodeArgs: readonly string[] = []) {
    this.redis = new Redis(redisPort, '127.0.0.1');
  }

  /**
   * Starts `count` replicas (ids bench-r1..N) and resolves when each reports ready.
   * `nodeArgs`: node options for the replicas (e.g. a preloaded profiler).
   */
  static async start(redisPort: number, count: number, env: Record<string, string> = {}, nodeArgs: readonly string[] = []): Promise<NexusCluster> {
    const cluster = new NexusCluster(redisPort, nodeArgs);
    try {
      for (let i = 1; i <= count; i++) await cluster.spawnReplica(env);
      await cluster.waitReady(cluster.replicas);
      return cluster;
    } catch (err) {
      await cluster.stop();
      throw err;
    }
  }

  /** Adds one more replica (scale-up) and resolves when it reports ready. */
  async addReplica(env: Record<string, string> = {}): Promise<BenchReplica> {
    const replica = await this.spawnReplica(env);
    await this.waitReady([replica]);
    return replica;
  }

  private async spawnReplica(env: Record<string, string>): Promise<BenchReplica> {
    const id = `bench-r${this.replicas.length + 1}`;
    const [grpcPort, metricsPort] = [await freePort(), await freePort()];
    const proc = spawn(process.execPath, [...this.childArgs, ...this.nodeArgs, join(DIST, 'orchestrator/main.js')], {
      env: {
        ...process.env, REDIS_URL: `redis://127.0.0.1:${this.redisPort}`, GRPC_HOST: '127.0.0.1', GRPC_PORT: String(grpcPort), METRICS_PORT: String(metricsPort), CONSOLE_PORT: '0',
        REPLICA_ID: id, ADVERTISE_ADDRESS: `127.0.0.1:${grpcPort}`, LOG_LEVEL: 'warn', ...env,
      },
      stdio: this.logTo(id),
    });
    const replica = { id, proc, pid: proc.pid!, grpcPort, metricsPort };
    this.replicas.push(replica);
    return replica;
  }

  private async waitReady(replicas: BenchReplica[]): Promise<void> {
    await waitUntil('every replica ready on /metrics', async () => (await Promise.all(replicas.map((r) => scrapeReplica(r.metricsPort)))).every((s) => s.ready === 1), 20_000, 100);
  }

  /** The agents' ORCHESTRATOR_HOST: every replica's address (each agent shuffles the list). */
  get target(): string {
    return `ipv4:${this.replicas.map((r) => `127.0.0.1:${r.grpcPort}`).join(',')}`;
  }

  /**
   * Starts `count` agents in swarm processes of at most `perProcess` agents each. One process:
   * ids `<prefix>-1..N`; several: `<prefix>-s<k>-1..M` (distinct AGENT_ID per process).
   * `staggerTimeoutMs`: start each process only once the agents before it are online, so a big
   * fleet comes up in steps instead of one connect burst from every process at once.
   */
  async startAgents(prefix: string, count: number, perProcess: number, env: Record<string, string> = {}, staggerTimeoutMs = 0): Promise<void> {
    const processes = Math.ceil(count / perProcess);
    for (let k = 1; k <= processes; k++) {
      const n = Math.min(perProcess, count - (k - 1) * perProcess);
      const agentId = processes === 1 ? prefix : `${prefix}-s${k}`;
      for (let i = 1; i <= n; i++) this.agentIds.push(`${agentId}-${i}`);
      this.swarms.push(spawn(process.execPath, [...this.childArgs, join(DIST, 'agent/main.js')], {
        env: { ...process.env, ORCHESTRATOR_HOST: this.target, AGENT_ID: agentId, AGENT_COUNT: String(n), LOG_LEVEL: 'warn', ...env },
        stdio: this.logTo(agentId),
      }));
      if (staggerTimeoutMs > 0 && k < processes) await this.waitOnline(this.agentIds.length, staggerTimeoutMs);
    }
  }

  /** Resolves once `count` agents are in the online set; says how many are every 10 s meanwhile. */
  async waitOnline(count: number, timeoutMs: number): Promise<void> {
    const started = performance.now();
    let online = 0;
    let said = started;
    await waitUntil(() => `${count} agents online (${online} are; ${this.logSummary()})`, async () => {
      online = Number(await this.redis.zcard('nexus:agents:online'));
      if (online < count && performance.now() - said > 10_000) {
        said = performance.now();
        console.log(`  ${online.toLocaleString('en-US')} of ${count.toLocaleString('en-US')} agents online after ${Math.round((said - started) / 1000)} s`);
      }
      return online >= count;
    }, timeoutMs, 100);
  }

  /** SIGKILLs one replica and resolves when it is gone. */
  async kill(replica: BenchReplica): Promise<void> {
    await killAndWait(replica.proc);
  }

  /**
   * SIGKILLs every child by PID, waits for them to exit, closes the Redis client, removes the
   * logs. With NEXUS_BENCH_NODE_ARGS a SIGTERM comes first, so a profiler writes its file.
   */
  async stop(): Promise<void> {
    const children = [...this.swarms, ...this.replicas.map((r) => r.proc)];
    if (this.childArgs.length > 0) await Promise.all(children.map((c) => killAndWait(c, 'SIGTERM')));
    await Promise.all(children.map((c) => killAndWait(c)));
    this.redis.disconnect();
    rmSync(this.logDir, { recursive: true, force: true });
  }

  /** stdio for a child: stdout and stderr appended to `<logDir>/<name>.log`. */
  private logTo(name: string): ['ignore', number, number] {
    const fd = openSync(join(this.logDir, `${name}.log`), 'a');
    setImmediate(() => closeSync(fd)); // spawn() has handed the child its own copy by then
    return ['ignore', fd, fd];
  }

  /** How often each warning occurs in the children's logs so far, keyed "msg (reason)". */
  logCounts(): Map<string, number> {
    const counts = new Map<string, number>();
    for (const file of readdirSync(this.logDir)) {
      for (const line of readFileSync(join(this.logDir, file), 'utf8').split('\n')) {
        if (!line) continue;
        let key = line.slice(0, 120);
        try {
          const entry = JSON.parse(line) as { msg?: string; reason?: string; err?: string };
          // Numbers vary per line ("heard nothing for 3012 ms"): fold them so such lines group.
          key = `${entry.msg}${entry.reason || entry.err ? ` (${entry.reason ?? entry.err})` : ''}`.replace(/\d+/g, 'N');
        } catch {
          // not a log line: keep its start
        }
        counts.set(key, (counts.get(key) ?? 0) + 1);
      }
    }
    return counts;
  }

  /** The most frequent warnings ("1234× session ended; reconnecting (reason)"), only those after `since`. */
  logSummary(since = new Map<string, number>()): string {
    const top = [...this.logCounts()].map(([k, n]) => [k, n - (since.get(k) ?? 0)] as const).filter(([, n]) => n > 0).sort((a, b) => b[1] - a[1]).slice(0, 4);
    return top.length ? `logged: ${top.map(([k, n]) => `${n}× ${k}`).join('; ')}` : 'nothing logged';
  }
}

/** SIGKILL (or `signal`), then wait (at most 5 s) for the exit so no process outlives its scenario. */
export async function killAndWait(proc: ChildProcess, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  const exited = new Promise((resolve) => proc.once('exit', resolve));
  proc.kill(signal);
  await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 5000).unref())]);
}
