import { afterEach, describe, expect, it } from 'vitest';
import { xaddMany } from '../helpers/commands';
import { waitFor } from '../helpers/wait-for';
import { check, settled } from './harness/checker';
import { FaultCluster } from './harness/fault-cluster';
import { Workload } from './harness/workload';

async function usedMemory(cluster: FaultCluster): Promise<number> {
  return Number(/used_memory:(\d+)/.exec(await cluster.db.info('memory'))?.[1] ?? 0);
}

describe('F19/F21: streams and consumer names stay bounded', () => {
  let cluster: FaultCluster;
  afterEach(async () => cluster?.stop());

  it('F19 a flood of 30,000 invalid entries: DLQ and events stay at their caps, Redis memory flat', async () => {
    cluster = await new FaultCluster('none').start(['r1', 'r2'], { DLQ_MAXLEN: '1000', EVENTS_MAXLEN: '1000', INGRESS_TARGET_LEN: '1000' });
    const before = await usedMemory(cluster);
    for (let i = 0; i < 30; i++) {
      await xaddMany(cluster.db, Array.from({ length: 1000 }, (_, j) => ['target', 'x', 'command_id', `junk-${i}-${j}`, 'priority', 'abc', 'payload', 'y'.repeat(200)]));
    }
    await waitFor('flood handled', async () => Number(await cluster.db.hget('nexus:commands:counts', 'dead')) >= 30_000, { timeoutMs: 60_000, intervalMs: 250 });
    await waitFor('ingress trimmed', async () => (await cluster.db.xlen('nexus:commands:stream')) <= 1100, { timeoutMs: 10_000 });
    const dlq = await cluster.db.xlen('nexus:commands:dlq');
    const events = await cluster.db.xlen('nexus:events:stream');
    const after = await usedMemory(cluster);
    console.log(`F19: DLQ ${dlq} (cap 1000), events ${events} (cap 1000), used_memory ${(before / 1e6).toFixed(1)} -> ${(after / 1e6).toFixed(1)} MB`);
    expect(dlq).toBeLessThanOrEqual(1100);
    expect(events).toBeLessThanOrEqual(1100);
    expect(after - before).toBeLessThan(5e6);
  });

  it('F21 consumer churn: 8 replicas come and go; idle empty consumers are deleted, no pending entry is dropped', async () => {
    cluster = await new FaultCluster('aof').start(['stable'], { CONSUMER_RETIRE_IDLE_MS: '1000', MAINTENANCE_INTERVAL_MS: '50' });
    await cluster.startSwarm('c', 10);
    const workload = new Workload(cluster.db, cluster.agentIds('c', 10), 'f21');
    for (let i = 0; i < 8; i++) {
      const name = `churn-${i}`;
      const replica = await cluster.startReplica(name, { CONSUMER_RETIRE_IDLE_MS: '1000' });
      await workload.add(50);
      replica.signal(i % 2 === 0 ? 'SIGKILL' : 'SIGTERM');
      await replica.exited;
    }
    await settled(cluster.db, workload, 30_000);
    await waitFor('dead consumers deleted', async () => {
      const consumers = (await cluster.db.xinfo('CONSUMERS', 'nexus:commands:stream', 'orchestrator_group')) as unknown[][];
      return consumers.length <= 2;
    }, { timeoutMs: 15_000 });
    const result = await check(cluster.db, workload, cluster.executionLogs);
    console.log(`F21: 8 replicas started and killed/stopped; consumers left ${((await cluster.db.xinfo('CONSUMERS', 'nexus:commands:stream', 'orchestrator_group')) as unknown[]).length}; outcomes ${JSON.stringify(result.outcomes)}`);
    expect(result.lost).toEqual([]);
    expect(result.duplicated).toEqual([]);
    expect(result.outcomes).toEqual({ succeeded: result.acknowledged });
  });
});
