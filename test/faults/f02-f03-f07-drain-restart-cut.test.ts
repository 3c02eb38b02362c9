import { afterEach, describe, expect, it } from 'vitest';
import { HealthCheckResponse_ServingStatus } from '../../src/generated/grpc/health/v1/health';
import { healthClient } from '../helpers/grpc-clients';
import { readEvents } from '../helpers/events';
import { waitFor } from '../helpers/wait-for';
import { ChaosProxy } from './harness/chaos-proxy';
import { check, settled } from './harness/checker';
import { FAULT_KNOBS, FaultCluster, FLEET_KEEPALIVE } from './harness/fault-cluster';
import { Workload } from './harness/workload';

/** Which replica each agent's session is on now. */
async function owners(cluster: FaultCluster, ids: string[]): Promise<Map<string, string>> {
  const pipeline = cluster.db.pipeline();
  for (const id of ids) pipeline.hmget(`nexus:agent:${id}`, 'replica', 'state');
  const replies = (await pipeline.exec()) ?? [];
  const out = new Map<string, string>();
  replies.forEach(([, v], i) => {
    const [replica, state] = v as [string, string];
    if (state === 'online') out.set(ids[i], replica);
  });
  return out;
}

describe('F2/F3/F7: replicas drain, restart, lose Redis', () => {
  let cluster: FaultCluster;
  let proxy: ChaosProxy | undefined;
  afterEach(async () => {
    await proxy?.close();
    await cluster?.stop();
  });

  it('F2 SIGTERM with 1,000 agents and 500 commands in flight: NOT_SERVING at once, exit 0 in the grace, spread reconnects, nothing lost', async () => {
    cluster = await new FaultCluster('aof').start(['r1', 'r2'], FLEET_KEEPALIVE);
    await cluster.startSwarm('s', 1000, FLEET_KEEPALIVE);
    const ids = cluster.agentIds('s', 1000);
    const onR1 = [...(await owners(cluster, ids)).entries()].filter(([, r]) => r === 'r1').map(([id]) => id);
    const workload = new Workload(cluster.db, ids, 'f2', 'sleep', '1000');
    await workload.add(500);
    await waitFor('commands in flight', async () => Number(await cluster.db.hget('nexus:commands:counts', 'delivered')) >= 300);

    const watch = healthClient(cluster.replica('r1').port).watch({ service: 'nexus.prime.NexusPulseService' });
    const seen: { status: string; at: number }[] = [];
    watch.on('data', (r: { status: number }) => seen.push({ status: HealthCheckResponse_ServingStatus[r.status], at: Date.now() }));
    watch.on('error', () => undefined);
    await waitFor('watch SERVING', () => seen.some((s) => s.status === 'SERVING'));
    const termAt = Date.now();
    cluster.replica('r1').signal('SIGTERM');
    const exit = await cluster.replica('r1').exited;
    const exitMs = Date.now() - termAt;
    const notServingMs = (seen.find((s) => s.status === 'NOT_SERVING')?.at ?? Infinity) - termAt;
    await settled(cluster.db, workload, 30_000);
    await waitFor('r1 agents back on r2', async () => {
      const now = await owners(cluster, onR1);
      return onR1.every((id) => now.get(id) === 'r2');
    }, { timeoutMs: 20_000 });

    // Reconnect spread: agent_connected events of r1's agents after the TERM, in 250 ms buckets.
    const reconnects = (await readEvents(cluster.db)).filter((e) => e.type === 'agent_connected' && Number(e.ts) >= termAt && onR1.includes(e.agent_id)).map((e) => Number(e.ts));
    const first = Math.min(...reconnects);
    const buckets = new Map<number, number>();
    for (const t of reconnects) buckets.set(Math.floor((t - first) / 250), (buckets.get(Math.floor((t - first) / 250)) ?? 0) + 1);
    // The mean per bucket of a spread over the drain window (U(0, DRAIN_WINDOW_MS), 8 buckets),
    // not over the span observed: stragglers of a loaded machine stretch the span and so would
    // shrink the mean, which punishes a tail, the opposite of a herd.
    const mean = reconnects.length / (Number(FAULT_KNOBS.DRAIN_WINDOW_MS) / 250);
    const biggest = Math.max(...buckets.values());
    const result = await check(cluster.db, workload, cluster.executionLogs);
    console.log(`F2: ${onR1.length} agents on r1; NOT_SERVING ${notServingMs} ms after TERM; exit ${exit.code} after ${exitMs} ms; reconnects over ${buckets.size} buckets of 250 ms [${[...buckets.entries()].sort((a, b) => a[0] - b[0]).map(([, n]) => n).join(' ')}], biggest ${biggest} vs mean ${mean.toFixed(1)} over the drain window; outcomes ${JSON.stringify(result.outcomes)}`);
    expect(exit.code).toBe(0);
    expect(exitMs).toBeLessThan(8000 - 2000);
    // A time, printed above (5-8 ms here; promised 100 ms); the guard allows a loaded machine.
    expect(notServingMs).toBeLessThanOrEqual(1000);
    expect(biggest).toBeLessThanOrEqual(3 * mean);
    expect(result.lost).toEqual([]);
    expect(result.duplicated).toEqual([]);
    expect(result.outcomes).toEqual({ succeeded: 500 });
  });

  it('F3 rolling restart of every replica under steady load: nothing lost or run twice, at most one move per restart', async () => {
    cluster = await new FaultCluster('aof').start(['r1', 'r2', 'r3']);
    await cluster.startSwarm('roll', 60);
    const ids = cluster.agentIds('roll', 60);
    const workload = new Workload(cluster.db, ids, 'f3');
    const stop = new AbortController();
    const load = workload.run(50, 120_000, stop.signal);
    const startedAt = Date.now();
    for (const name of ['r1', 'r2', 'r3']) {
      const replica = cluster.replica(name);
      replica.signal('SIGTERM');
      expect((await replica.exited).code).toBe(0);
      await cluster.startReplica(name);
    }
    stop.abort();
    await load;
    await settled(cluster.db, workload, 30_000);
    const result = await check(cluster.db, workload, cluster.executionLogs);
    const connects = new Map<string, number>();
    for (const e of await readEvents(cluster.db)) if (e.type === 'agent_connected' && Number(e.ts) >= startedAt) connects.set(e.agent_id, (connects.get(e.agent_id) ?? 0) + 1);
    console.log(`F3: ${result.acknowledged} commands during 3 restarts in ${Date.now() - startedAt} ms; most reconnects of one agent ${Math.max(...connects.values())}; outcomes ${JSON.stringify(result.outcomes)}`);
    expect(result.lost).toEqual([]);
    expect(result.duplicated).toEqual([]);
    expect(result.outcomes).toEqual({ succeeded: result.acknowledged });
    // An agent moves only when its replica restarts: at most 3 restarts, so at most 3 moves.
    expect(Math.max(...connects.values())).toBeLessThanOrEqual(3);
  });

  it('F7 one replica cut from Redis (blackhole): NOT_SERVING, its agents move to the healthy replica, nothing lost', async () => {
    cluster = await new FaultCluster('aof').start(['r2']);
    proxy = await new ChaosProxy(cluster.redis.port).start();
    await cluster.startReplica('r1', {}, `redis://127.0.0.1:${proxy.port}`);
    await cluster.startSwarm('cut', 40);
    const ids = cluster.agentIds('cut', 40);
    const onR1 = [...(await owners(cluster, ids)).entries()].filter(([, r]) => r === 'r1').map(([id]) => id);
    const workload = new Workload(cluster.db, ids, 'f7');
    await workload.add(100);
    const cutAt = Date.now();
    proxy.setMode('blackhole');
    const r1Health = healthClient(cluster.replica('r1').port);
    await waitFor('r1 NOT_SERVING', async () => {
      return new Promise<boolean>((resolve) => r1Health.check({ service: 'nexus.prime.NexusPulseService' }, (e, r) => resolve(!e && r.status === 2)));
    }, { timeoutMs: 5000 });
    const notServingMs = Date.now() - cutAt;
    r1Health.close();
    await workload.add(100);
    await waitFor('r1 agents moved to r2', async () => {
      const now = await owners(cluster, onR1);
      return onR1.every((id) => now.get(id) === 'r2');
    }, { timeoutMs: 30_000 });
    const movedMs = Date.now() - cutAt;
    await settled(cluster.db, workload, 30_000);
    const result = await check(cluster.db, workload, cluster.executionLogs);
    console.log(`F7: r1 NOT_SERVING ${notServingMs} ms after the cut; its ${onR1.length} agents on r2 after ${movedMs} ms (REDIS_LOSS_DRAIN_MS 3000 + drain window 2000); outcomes ${JSON.stringify(result.outcomes)}`);
    expect(notServingMs).toBeLessThanOrEqual(2000);
    expect(result.lost).toEqual([]);
    expect(result.duplicated).toEqual([]);
  });
});
