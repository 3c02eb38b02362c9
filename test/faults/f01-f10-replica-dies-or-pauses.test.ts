import { afterEach, describe, expect, it } from 'vitest';
import { eventCounts } from '../helpers/commands';
import { waitFor } from '../helpers/wait-for';
import { check, settled } from './harness/checker';
import { FaultCluster } from './harness/fault-cluster';
import { Workload } from './harness/workload';

const AGENTS = 20;

/** Entries of the ingress pending on consumer `name`. */
async function pendingOn(cluster: FaultCluster, name: string): Promise<number> {
  const summary = (await cluster.db.xpending('nexus:commands:stream', 'orchestrator_group')) as [number, string, string, [string, string][] | null];
  return Number(summary[3]?.find(([consumer]) => consumer === name)?.[1] ?? 0);
}

describe('F1/F10: a replica holding read-but-unrouted entries dies, or pauses and wakes', () => {
  let cluster: FaultCluster;
  afterEach(async () => cluster?.stop());

  async function strandEntries(r1Env: Record<string, string> = {}): Promise<Workload> {
    cluster = await new FaultCluster('aof').start(['r2']);
    // A long BLOCK keeps r1's read waiting inside Redis for as long as r1 is paused (a short one
    // would time out there, and a paused r1 would never read again, so nothing could strand).
    await cluster.startReplica('r1', { INGRESS_BLOCK_MS: '60000', ...r1Env });
    await cluster.startSwarm('a', AGENTS);
    const workload = new Workload(cluster.db, cluster.agentIds('a', AGENTS), 'f1');
    // Paused with XREADGROUP waiting: Redis hands it entries it will not handle.
    cluster.replica('r1').signal('SIGSTOP');
    await waitFor('entries stranded on r1', async () => {
      await workload.add(50, true);
      return (await pendingOn(cluster, 'r1')) > 0;
    });
    await workload.add(200);
    return workload;
  }

  it('F1 SIGKILL: survivors route every stranded entry once, within min-idle + sweep; nothing lost', async () => {
    const workload = await strandEntries();
    const stranded = await pendingOn(cluster, 'r1');
    const killedAt = Date.now();
    cluster.replica('r1').signal('SIGKILL');
    await waitFor('r1 pending reclaimed', async () => (await pendingOn(cluster, 'r1')) === 0, { timeoutMs: 10_000 });
    const reclaimMs = Date.now() - killedAt;
    await settled(cluster.db, workload, 20_000);
    const result = await check(cluster.db, workload, cluster.executionLogs);
    console.log(`F1: ${stranded} entries stranded on the killed replica, reclaimed in ${reclaimMs} ms (min-idle 1000 + sweep 250); ${result.acknowledged} commands, outcomes ${JSON.stringify(result.outcomes)}`);
    expect(result.lost).toEqual([]);
    expect(result.unexpected).toEqual([]);
    expect(result.duplicated).toEqual([]);
    expect(result.outcomes).toEqual({ succeeded: result.acknowledged });
    const queued = await eventCounts(cluster.db, 'command_queued');
    expect([...workload.acknowledged].every((id) => queued.get(id) === 1)).toBe(true);
  });

  it('F10 pause then resume: the zombie cannot route or deliver what the others took over', async () => {
    const workload = await strandEntries({ LOG_LEVEL: 'info' });
    const stranded = await pendingOn(cluster, 'r1');
    await waitFor('r2 took r1\'s entries', async () => (await pendingOn(cluster, 'r1')) === 0, { timeoutMs: 10_000 });
    await settled(cluster.db, workload, 20_000);
    // The zombie wakes with a stale batch in hand and sessions that moved on.
    cluster.replica('r1').signal('SIGCONT');
    await workload.add(100);
    await settled(cluster.db, workload, 20_000);
    // The fence held: the woken replica tried its stale batch and was refused by the script.
    await waitFor('the zombie hit the fence', () => cluster.replica('r1').json().some((l) => l.outcome === 'not_owner'));
    const result = await check(cluster.db, workload, cluster.executionLogs);
    console.log(`F10: ${stranded} entries reclaimed from the paused replica; after it woke: outcomes ${JSON.stringify(result.outcomes)}`);
    expect(result.lost).toEqual([]);
    expect(result.duplicated).toEqual([]);
    const queued = await eventCounts(cluster.db, 'command_queued');
    expect([...workload.acknowledged].filter((id) => queued.get(id) !== 1)).toEqual([]);
    expect(result.outcomes).toEqual({ succeeded: result.acknowledged });
  });
});
