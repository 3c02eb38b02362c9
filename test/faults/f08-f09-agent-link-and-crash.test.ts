import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Child, spawnAgent } from '../helpers/processes';
import { waitFor } from '../helpers/wait-for';
import { ChaosProxy } from './harness/chaos-proxy';
import { NetnsLink } from './harness/netns-link';
import { check, executions, settled } from './harness/checker';
import { FaultCluster } from './harness/fault-cluster';
import { Workload } from './harness/workload';

const FIXTURE = join(__dirname, 'fixtures', 'crash-once-agent.js');

describe('F8/F9: the agent side fails', () => {
  let cluster: FaultCluster;
  let proxy: ChaosProxy | undefined;
  afterEach(async () => {
    await proxy?.close();
    await cluster?.stop();
  });

  it('F9 agent crashes after receipt: redelivered on restart with the same attempt; at most one extra run', async () => {
    cluster = await new FaultCluster('aof').start(['r1']);
    const log = join(cluster.dir, 'crash.jsonl');
    const marker = join(cluster.dir, 'crashed');
    const start = () => new Child('crash-agent', spawn(process.execPath, [FIXTURE, cluster.target(), 'crashy', log, marker], { stdio: ['ignore', 'pipe', 'pipe'] }));
    const first = start();
    await waitFor('crashy online', async () => (await cluster.db.zscore('nexus:agents:online', 'crashy')) !== null);
    const workload = new Workload(cluster.db, ['crashy'], 'f9', 'crash-once');
    await workload.add(1);
    const exit = await first.exited;
    expect(exit.code).toBe(1);
    start();
    await settled(cluster.db, workload, 20_000);
    const result = await check(cluster.db, workload, [log]);
    const runs = executions([log]);
    console.log(`F9: runs per command ${JSON.stringify(Object.fromEntries(runs))} (1 crash), outcomes ${JSON.stringify(result.outcomes)}`);
    expect(result.lost).toEqual([]);
    expect(result.outcomes).toEqual({ succeeded: 1 });
    // At-least-once where the agent process itself died: 1 + crashes.
    expect([...runs.values()]).toEqual([2]);
    expect(await cluster.db.hget('nexus:command:f9-0', 'attempt')).toBe('1');
  });

  it('F8 half-open link (no FIN, no RST): both ends notice within keepalive time + timeout; in-flight work runs once', async () => {
    cluster = await new FaultCluster('aof').start(['r1']);
    proxy = await new ChaosProxy(cluster.replica('r1').port).start();
    const log = join(cluster.dir, 'linked.jsonl');
    cluster.executionLogs.push(log);
    const agent = spawnAgent(`127.0.0.1:${proxy.port}`, { AGENT_ID: 'linked', EXECUTION_LOG: log, MAX_CONCURRENCY: '4', LOG_LEVEL: 'info' });
    await waitFor('linked online', async () => (await cluster.db.zscore('nexus:agents:online', 'linked')) !== null);
    const workload = new Workload(cluster.db, ['linked'], 'f8', 'sleep', '1500');
    await workload.add(8);
    await waitFor('commands in flight', async () => executions([log]).size >= 4);
    const cutAt = Date.now();
    proxy.setMode('blackhole');
    await waitFor('replica closed the dead session', async () => (await cluster.db.zscore('nexus:agents:offline', 'linked')) !== null, { timeoutMs: 10_000 });
    const serverMs = Date.now() - cutAt;
    await waitFor('agent noticed', () => agent.json().some((l) => l.msg === 'session ended; reconnecting' && Date.parse(String(l.time)) >= cutAt), { timeoutMs: 10_000 });
    const agentLine = agent.json().find((l) => l.msg === 'session ended; reconnecting' && Date.parse(String(l.time)) >= cutAt)!;
    const agentMs = Date.parse(String(agentLine.time)) - cutAt;
    proxy.setMode('pass');
    await settled(cluster.db, workload, 40_000);
    const result = await check(cluster.db, workload, cluster.executionLogs);
    console.log(`F8: dead link noticed by the replica after ${serverMs} ms, by the agent after ${agentMs} ms (keepalive 1000 + 500); outcomes ${JSON.stringify(result.outcomes)}`);
    expect(serverMs).toBeLessThanOrEqual(4000);
    expect(agentMs).toBeLessThanOrEqual(4000);
    expect(result.lost).toEqual([]);
    expect(result.duplicated).toEqual([]);
    expect(result.outcomes).toEqual({ succeeded: 8 });
  });

  // The kernel-level variant needs root and `ip netns`; where the machine does not allow it,
  // this one case is skipped with the reason in its name (the proxy variant above still runs).
  const netns = NetnsLink.available();
  it.runIf(netns)('F8 (kernel) veth pulled down under an agent in its own network namespace: noticed within keepalive time + timeout, runs once', async () => {
    const link = new NetnsLink('nexusf8');
    link.up();
    try {
      cluster = await new FaultCluster('aof').start([]);
      await cluster.startReplica('r1', { GRPC_HOST: '0.0.0.0' });
      const log = join(cluster.dir, 'netns.jsonl');
      cluster.executionLogs.push(log);
      const agent = spawnAgent(`${link.hostIp}:${cluster.replica('r1').port}`, { AGENT_ID: 'in-netns', EXECUTION_LOG: log, LOG_LEVEL: 'info' }, link.exec);
      await waitFor('in-netns online', async () => (await cluster.db.zscore('nexus:agents:online', 'in-netns')) !== null);
      const workload = new Workload(cluster.db, ['in-netns'], 'f8k', 'sleep', '1500');
      await workload.add(4);
      await waitFor('commands in flight', async () => executions([log]).size >= 4);
      const cutAt = Date.now();
      link.cut();
      await waitFor('replica closed the dead session', async () => (await cluster.db.zscore('nexus:agents:offline', 'in-netns')) !== null, { timeoutMs: 10_000 });
      const serverMs = Date.now() - cutAt;
      await waitFor('agent noticed', () => agent.json().some((l) => l.msg === 'session ended; reconnecting' && Date.parse(String(l.time)) >= cutAt), { timeoutMs: 10_000 });
      const agentMs = Date.parse(String(agent.json().find((l) => l.msg === 'session ended; reconnecting' && Date.parse(String(l.time)) >= cutAt)!.time)) - cutAt;
      link.heal();
      await settled(cluster.db, workload, 40_000);
      const result = await check(cluster.db, workload, cluster.executionLogs);
      console.log(`F8 (netns): veth down noticed by the replica after ${serverMs} ms, by the agent after ${agentMs} ms; outcomes ${JSON.stringify(result.outcomes)}`);
      expect(serverMs).toBeLessThanOrEqual(4000);
      expect(agentMs).toBeLessThanOrEqual(4000);
      expect(result.lost).toEqual([]);
      expect(result.duplicated).toEqual([]);
      expect(result.outcomes).toEqual({ succeeded: 4 });
    } finally {
      await cluster?.stop();
      link.down(true);
    }
  });
});
