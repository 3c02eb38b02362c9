import { afterEach, describe, expect, it } from 'vitest';
import { credentials } from '@grpc/grpc-js';
import { NexusPulseServiceClient, type OrchestratorMessage } from '../../src/generated/nexus/prime/pulse';
import { freePort } from '../../scripts/lib/free-port';
import { xaddMany } from '../helpers/commands';
import { readEvents } from '../helpers/events';
import { ipv4Target } from '../helpers/processes';
import { rssMb } from '../helpers/rss';
import { waitFor } from '../helpers/wait-for';
import { check, settled } from './harness/checker';
import { FaultCluster, FLEET_KEEPALIVE } from './harness/fault-cluster';
import { Workload } from './harness/workload';


async function metric(port: number, name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  return Number(new RegExp(`^${name}(?:\\{[^}]*\\})? ([0-9.e+-]+)$`, 'm').exec(text)?.[1] ?? NaN);
}

describe('F17/F18: reconnect storm, agents that stop reading', () => {
  let cluster: FaultCluster;
  afterEach(async () => cluster?.stop());

  it('F18 agents that stop reading: deliveries stop at the window, replica memory stays flat, stuck sessions are closed', async () => {
    cluster = await new FaultCluster('none').start(['r1'], { STALENESS_THRESHOLD_SEC: '3' });
    const replica = cluster.replica('r1');
    const enqueue = async (from: number, to: number, target: string, payload: string, queued: number) => {
      for (let n = from; n < to; n += 1000) {
        await xaddMany(cluster.db, Array.from({ length: 1000 }, (_, j) => ['target', `${target}-${((n + j) % 50) + 1}`, 'command_id', `f18-${n + j}`, 'command_type', 'echo', 'payload', payload]));
      }
      await waitFor('all queued', async () => Number(await cluster.db.hget('nexus:commands:counts', 'queued')) === queued, { timeoutMs: 60_000 });
    };
    // Routing 4 KB commands (for agents that never come) must not grow the replica: a per-entry
    // leak would show as +40 MB between these two measurements.
    await enqueue(0, 10_000, 'parked', 'z'.repeat(4096), 10_000);
    const afterFirst = rssMb(replica.pid);
    await enqueue(10_000, 20_000, 'parked', 'z'.repeat(4096), 20_000);
    const afterSecond = rssMb(replica.pid);
    // 10,000 ordinary commands for the agents that will stop reading.
    await enqueue(20_000, 30_000, 'stuck', 'ping', 30_000);

    // 50 sessions that say hello (window 32) and then never read again.
    const stuck = Array.from({ length: 50 }, (_, i) => {
      const client = new NexusPulseServiceClient(`127.0.0.1:${replica.port}`, credentials.createInsecure(), { 'grpc.use_local_subchannel_pool': 1 });
      const call = client.pulse();
      call.on('error', () => undefined);
      call.once('data', (_m: OrchestratorMessage) => call.pause());
      call.write({ kind: { $case: 'hello', hello: { agentId: `stuck-${i + 1}`, agentType: 't', displayName: '', capabilities: [], labels: {}, version: '1', maxConcurrency: 32, acceptsCommandBatches: false } } });
      return { client, call };
    });
    await waitFor('windows full', async () => Number(await cluster.db.hget('nexus:commands:counts', 'delivered')) === 32 * 50, { timeoutMs: 15_000 });
    const withStuck = rssMb(replica.pid);
    // Silent (no heartbeats): closed at the offline threshold (2 x staleness = 6 s here).
    await waitFor('stuck sessions closed', async () => (await cluster.db.zcard('nexus:agents:offline')) === 50, { timeoutMs: 15_000 });
    const delivered = Number(await cluster.db.hget('nexus:commands:counts', 'delivered'));
    console.log(`F18: routing 2 x 10,000 x 4 KB: RSS ${afterFirst.toFixed(1)} -> ${afterSecond.toFixed(1)} MB; 50 stuck agents with 10,000 commands queued: in flight ${delivered} (window 32 x 50), RSS ${afterSecond.toFixed(1)} -> ${withStuck.toFixed(1)} MB`);
    expect(afterSecond).toBeLessThanOrEqual(afterFirst + 10);
    expect(delivered).toBe(32 * 50);
    expect(withStuck).toBeLessThanOrEqual(afterSecond + 20);
    stuck.forEach(({ client, call }) => {
      call.cancel();
      client.close();
    });
    // Working agents with the same ids get everything, once.
    await cluster.startSwarm('stuck', 50, { MAX_CONCURRENCY: '32', AGENT_ID: 'stuck' });
    await waitFor('all 10,000 succeeded', async () => Number(await cluster.db.hget('nexus:commands:counts', 'succeeded')) === 10_000, { timeoutMs: 60_000, intervalMs: 250 });
  });

  it('F17 2,000 agents on a replica that is SIGKILLed: all back on the survivors within the jitter window + 5 s', async () => {
    const AGENTS = 2000;
    const [p2, p3] = [await freePort(), await freePort()];
    cluster = await new FaultCluster('none').start(['r1'], FLEET_KEEPALIVE);
    // Only r1 listens when the swarm starts, so every agent lands there.
    const target = ipv4Target([cluster.replica('r1').port, p2, p3]);
    await cluster.startSwarm('storm', AGENTS, { HEARTBEAT_INTERVAL: '5', INITIAL_BACKOFF: '1', MAX_BACKOFF: '5', MAX_CONCURRENCY: '1', ...FLEET_KEEPALIVE }, target);
    await cluster.startReplica('r2', { GRPC_PORT: String(p2), ...FLEET_KEEPALIVE });
    await cluster.startReplica('r3', { GRPC_PORT: String(p3), ...FLEET_KEEPALIVE });
    const killedAt = Date.now();
    cluster.replica('r1').signal('SIGKILL');
    await waitFor('every agent back on r2/r3', async () => {
      const pipeline = cluster.db.pipeline();
      for (let i = 1; i <= AGENTS; i++) pipeline.hget(`nexus:agent:storm-${i}`, 'replica');
      const owners = ((await pipeline.exec()) ?? []).map(([, r]) => r);
      return owners.every((r) => r === 'r2' || r === 'r3');
    }, { timeoutMs: 30_000, intervalMs: 200 });
    const backMs = Date.now() - killedAt;
    const connects = (await readEvents(cluster.db)).filter((e) => e.type === 'agent_connected' && Number(e.ts) >= killedAt).map((e) => Math.floor((Number(e.ts) - killedAt) / 1000));
    const perSecond = new Map<number, number>();
    for (const s of connects) perSecond.set(s, (perSecond.get(s) ?? 0) + 1);
    const lag = await Promise.all(['r2', 'r3'].map((n) => metric(cluster.replica(n).metricsPort, 'nodejs_eventloop_lag_p99_seconds')));
    const rejected = await Promise.all(['r2', 'r3'].map(async (n) => {
      const text = await (await fetch(`http://127.0.0.1:${cluster.replica(n).metricsPort}/metrics`)).text();
      return [...text.matchAll(/^nexus_sessions_rejected_total\{[^}]*\} (\d+)/gm)].reduce((a, m) => a + Number(m[1]), 0);
    }));
    console.log(`F17: ${AGENTS} agents back on the survivors ${backMs} ms after the SIGKILL (jitter window 1 s + 5 s allowed); peak ${Math.max(...perSecond.values())} new sessions/s; event-loop lag p99 ${lag.map((l) => `${(l * 1000).toFixed(0)} ms`).join(', ')}; sessions pushed back ${rejected.join(' + ')}`);
    // A time: printed above (about 3 s here, promised jitter window + 5 s = 6 s). The assertion
    // is only a guard against gross regressions on a loaded 2-core machine.
    expect(backMs).toBeLessThanOrEqual(2 * (1000 + 5000));
    // The work still flows afterwards.
    const workload = new Workload(cluster.db, cluster.agentIds('storm', AGENTS), 'f17');
    await workload.add(500);
    await settled(cluster.db, workload, 30_000);
    const result = await check(cluster.db, workload, cluster.executionLogs);
    expect(result.lost).toEqual([]);
    expect(result.duplicated).toEqual([]);
  });
});
