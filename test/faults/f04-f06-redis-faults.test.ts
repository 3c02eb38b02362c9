import { afterEach, describe, expect, it } from 'vitest';
import { checkHealth, healthClient } from '../helpers/grpc-clients';
import { rssMb } from '../helpers/rss';
import { waitFor } from '../helpers/wait-for';
import { check, settled } from './harness/checker';
import { FaultCluster } from './harness/fault-cluster';
import { Workload } from './harness/workload';

const AGENTS = 20;
/** F6's outage, as long as FAULTS.md asks: long enough for every reconnect backoff to hit its cap. */
const OUTAGE_MS = 30_000;


/** Polls readiness of every replica; resolves when all report `want`. */
async function allReady(cluster: FaultCluster, want: 'SERVING' | 'NOT_SERVING', timeoutMs: number): Promise<number> {
  const started = Date.now();
  const clients = [...cluster.replicas.values()].map((r) => healthClient(r.port));
  try {
    await waitFor(`all replicas ${want}`, async () => {
      for (const c of clients) if ((await checkHealth(c, 'nexus.prime.NexusPulseService')) !== want) return false;
      return true;
    }, { timeoutMs, intervalMs: 50 });
    for (const c of clients) expect(await checkHealth(c, '')).toBe('SERVING'); // liveness never drops
  } finally {
    clients.forEach((c) => c.close());
  }
  return Date.now() - started;
}

describe('F4-F6: Redis crashes, loses its data, goes away, hangs', () => {
  let cluster: FaultCluster;
  afterEach(async () => cluster?.stop());

  it('F4 Redis SIGKILL with AOF everysec, restarted on the same dir: no acknowledged command lost or run twice', async () => {
    cluster = await new FaultCluster('aof').start(['r1', 'r2']);
    await cluster.startSwarm('a', AGENTS);
    const workload = new Workload(cluster.db, cluster.agentIds('a', AGENTS), 'f4');
    const load = workload.run(200, 5000);
    await waitFor('load under way', () => workload.acknowledged.size > 300);
    await cluster.redis.stop('SIGKILL');
    await allReady(cluster, 'NOT_SERVING', 3000);
    await cluster.redis.start();
    const backMs = await allReady(cluster, 'SERVING', 10_000);
    await load;
    await settled(cluster.db, workload, 30_000);
    const result = await check(cluster.db, workload, cluster.executionLogs);
    console.log(`F4: ${result.acknowledged} acknowledged of ${workload.attempted.size} attempted; replicas SERVING ${backMs} ms after Redis returned; outcomes ${JSON.stringify(result.outcomes)}, recovered ${result.recovered}`);
    expect(backMs).toBeLessThanOrEqual(6000);
    expect(result.lost).toEqual([]);
    expect(result.unexpected).toEqual([]);
    expect(result.duplicated).toEqual([]);
  });

  it('F5 Redis restarted with no persistence: the group is recreated from 0, sessions re-registered, new commands routed', async () => {
    cluster = await new FaultCluster('none').start(['r1', 'r2']);
    await cluster.startSwarm('a', 10);
    await cluster.redis.stop('SIGKILL');
    await cluster.redis.start(); // empty: no stream, no group, no records
    const backMs = await allReady(cluster, 'SERVING', 10_000);
    await waitFor('sessions re-listed', async () => (await cluster.db.zcard('nexus:agents:online')) === 10, { timeoutMs: 10_000 });
    const workload = new Workload(cluster.db, cluster.agentIds('a', 10), 'f5');
    await workload.add(10);
    await settled(cluster.db, workload, 15_000);
    const result = await check(cluster.db, workload, cluster.executionLogs);
    console.log(`F5: SERVING ${backMs} ms after the empty Redis came back; outcomes ${JSON.stringify(result.outcomes)}`);
    expect(backMs).toBeLessThanOrEqual(6000);
    expect(result.outcomes).toEqual({ succeeded: 10 });
  });

  it.each([
    ['refused (SIGKILL)', 'SIGKILL'],
    ['hung (SIGSTOP)', 'SIGSTOP'],
  ] as const)('F6 Redis %s for 30 s: NOT_SERVING within 2 s, liveness up, memory flat, SERVING within 6 s after, nothing lost', async (_name, signal) => {
    cluster = await new FaultCluster('aof').start(['r1', 'r2']);
    await cluster.startSwarm('a', AGENTS);
    const workload = new Workload(cluster.db, cluster.agentIds('a', AGENTS), 'f6');
    await workload.add(200);
    await settled(cluster.db, workload, 10_000);
    const pids = [...cluster.replicas.values()].map((r) => r.pid);
    const baseline = pids.map(rssMb);
    const redisPid = cluster.redis.pid!;
    if (signal === 'SIGKILL') await cluster.redis.stop('SIGKILL');
    else process.kill(redisPid, 'SIGSTOP');
    const downMs = await allReady(cluster, 'NOT_SERVING', 5000);
    const during = new Workload(cluster.db, cluster.agentIds('a', AGENTS), 'f6-during');
    const outageEnd = Date.now() + OUTAGE_MS - downMs;
    while (Date.now() < outageEnd) {
      void during.add(10);
      await new Promise((r) => setTimeout(r, 100));
    }
    const peak = pids.map(rssMb);
    if (signal === 'SIGKILL') await cluster.redis.start();
    else process.kill(redisPid, 'SIGCONT');
    const backMs = await allReady(cluster, 'SERVING', 10_000);
    await workload.add(200);
    await settled(cluster.db, workload, 30_000);
    await settled(cluster.db, during, 30_000);
    const result = await check(cluster.db, workload, cluster.executionLogs);
    const duringResult = await check(cluster.db, during, cluster.executionLogs);
    console.log(`F6 ${signal}: NOT_SERVING after ${downMs} ms, SERVING ${backMs} ms after Redis returned; RSS MB ${baseline.map(Math.round)} -> ${peak.map(Math.round)}; during the outage ${duringResult.acknowledged} acknowledged`);
    expect(downMs).toBeLessThanOrEqual(2000);
    expect(backMs).toBeLessThanOrEqual(6000);
    peak.forEach((mb, i) => expect(mb).toBeLessThanOrEqual(baseline[i] + 30));
    expect(result.lost).toEqual([]);
    expect(result.duplicated).toEqual([]);
    expect(duringResult.lost).toEqual([]);
    expect(duringResult.duplicated).toEqual([]);
  });
});
