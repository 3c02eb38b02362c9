import { execFileSync, spawn } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import { portIsFree } from '../../scripts/lib/free-port';
import { Child } from './processes';
import { waitFor } from './wait-for';

const SCRIPT = join(__dirname, '..', '..', 'dist', 'scripts', 'local-cluster.js');

/** A running `npm start` and what it started, as seen from outside. */
export interface LocalCluster {
  cluster: Child;
  base: number;
  metricsBase: number;
  consoleBase: number;
  redisPort: number;
  dataDir: string;
  /** Every child of the cluster process, by what `ps` says it runs. */
  pids: { redis: number[]; replicas: number[]; agents: number[]; reaper: number[]; all: number[] };
}

/**
 * A base port with the next `count - 1` also free, below the kernel's ephemeral range: ports
 * in that range are handed out meanwhile to the outgoing connections and `listen(0)` servers
 * of the test files running in parallel (one took a replica's metrics port between this check
 * and the replica's listen once).
 */
export async function freeRange(count = 3): Promise<number> {
  const low = ephemeralLow();
  for (;;) {
    const base = 10000 + Math.floor(Math.random() * (low - 10000 - count));
    let free = true;
    for (let i = 0; i < count && free; i++) free = await portIsFree(base + i);
    if (free) return base;
  }
}

/** The first port of the kernel's ephemeral range (Linux), or 32768 (below every common default). */
function ephemeralLow(): number {
  try {
    return Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]) || 32768;
  } catch {
    return 32768;
  }
}

/** Starts the built local cluster on free ports with its own Redis; resolves once its banner is out. */
export async function startLocalCluster(): Promise<LocalCluster> {
  // One block of 10 free ports: gRPC, metrics and console 3 each, then Redis. Ranges chosen one
  // by one could overlap (a replica's console took another's gRPC port once).
  const block = await freeRange(10);
  const [base, metricsBase, consoleBase, ownRedisPort] = [block, block + 3, block + 6, block + 9];
  // Its private Redis on a free port too (the default, 6390, may be taken by a cluster running here).
  const env: NodeJS.ProcessEnv = { ...process.env, NEXUS_BASE_PORT: String(base), NEXUS_METRICS_BASE_PORT: String(metricsBase), NEXUS_CONSOLE_BASE_PORT: String(consoleBase), NEXUS_REDIS_PORT: String(ownRedisPort) };
  delete env.REDIS_URL; // it must start its own
  const cluster = new Child('local-cluster', spawn(process.execPath, [SCRIPT], { env, stdio: ['ignore', 'pipe', 'pipe'] }));
  await waitFor('the cluster banner', () => {
    if (!cluster.running) throw new Error(cluster.tail());
    return cluster.output.some((l) => l.includes('Ctrl-C stops everything'));
  }, { timeoutMs: 40_000 });
  const text = cluster.output.join('\n');
  const dataDir = /data in (\S+)\)/.exec(text)?.[1] ?? '';
  const redisPort = Number(/Redis +redis:\/\/127\.0\.0\.1:(\d+)/.exec(text)?.[1]);
  return { cluster, base, metricsBase, consoleBase, redisPort, dataDir, pids: childrenOf(cluster.pid) };
}

/** The cluster's child processes, from `ps` (not from the cluster's own account). */
function childrenOf(pid: number): LocalCluster['pids'] {
  const rows = execFileSync('ps', ['-o', 'pid=,args=', '--ppid', String(pid)], { encoding: 'utf8' })
    .split('\n').filter((l) => l.trim()).map((l) => { const [p, ...args] = l.trim().split(/\s+/); return { pid: Number(p), args: args.join(' ') }; });
  const running = (what: string): number[] => rows.filter((r) => r.args.includes(what)).map((r) => r.pid);
  return {
    redis: running('redis-server'),
    replicas: running('orchestrator/main.js'),
    agents: running('agent/main.js'),
    reaper: running('cluster-reaper.js'),
    all: rows.map((r) => r.pid),
  };
}

/** Whether `pid` runs; a zombie (exited, not yet reaped by init) does not. */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.[0] !== 'Z';
  } catch {
    return false; // gone between the two looks
  }
}

/** Every child of a fresh cluster is what it should be: Redis, 3 replicas, the agent swarm, the reaper. */
export function expectFullCluster(c: LocalCluster): void {
  expect(c.pids.redis).toHaveLength(1);
  expect(c.pids.replicas).toHaveLength(3);
  expect(c.pids.agents).toHaveLength(1);
  expect(c.pids.reaper).toHaveLength(1);
  expect(c.pids.all).toHaveLength(6);
  expect(c.pids.all.every(alive)).toBe(true);
  expect(existsSync(c.dataDir)).toBe(true);
}

/** Waits until every child PID is gone, every port is free again and the temp dir is removed. */
export async function expectNothingLeft(c: LocalCluster, timeoutMs = 15_000): Promise<void> {
  await waitFor('every child of the cluster to be gone', () => {
    const left = c.pids.all.filter(alive);
    if (left.length) throw new Error(`still running: ${left.join(', ')}`);
    return true;
  }, { timeoutMs });
  const ports = [0, 1, 2].flatMap((i) => [c.base + i, c.metricsBase + i, c.consoleBase + i]).concat(c.redisPort);
  await waitFor('every port of the cluster to be free again', async () => {
    for (const port of ports) if (!(await portIsFree(port))) throw new Error(`port ${port} is still in use`);
    return true;
  }, { timeoutMs: 5000 });
  await waitFor(`the temp dir ${c.dataDir} to be removed`, () => !existsSync(c.dataDir), { timeoutMs: 5000 });
}

/**
 * What a closed terminal does to the cluster's output: every later write fails (EPIPE here,
 * EIO on a real terminal). The exit status is still seen.
 */
export function closeTerminal(cluster: Child): void {
  cluster.proc.stdout?.destroy();
  cluster.proc.stderr?.destroy();
}

/**
 * For `finally`: ends the cluster and SIGKILLs whatever of it a failed test left running (its
 * children live in their own sessions, out of reach of the suite's cleanup).
 */
export async function endLocalCluster(c: LocalCluster): Promise<void> {
  c.cluster.signal('SIGKILL');
  await c.cluster.exited;
  for (const pid of c.pids.all.filter(alive)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone meanwhile
    }
  }
  if (c.dataDir) rmSync(c.dataDir, { recursive: true, force: true });
}
