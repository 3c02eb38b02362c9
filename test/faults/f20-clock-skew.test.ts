import { existsSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { readEvents } from '../helpers/events';
import { readDlq } from '../helpers/commands';
import { check, settled } from './harness/checker';
import { FaultCluster } from './harness/fault-cluster';
import { Workload } from './harness/workload';

/** libfaketime from Debian's faketime package (the `faketime` wrapper itself forks). */
const LIBFAKETIME = ['/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1', '/usr/lib/aarch64-linux-gnu/faketime/libfaketime.so.1'].find(existsSync);

/**
 * Runs a process with its wall clock moved (monotonic time left alone, so timers stay sane).
 * `env` execs the program with libfaketime preloaded, so the PID the test signals is the
 * program itself (the `faketime` wrapper would fork it and leave it orphaned when stopped).
 */
const skewed = (offset: string): string[] => ['env', `LD_PRELOAD=${LIBFAKETIME}`, `FAKETIME=${offset}`, 'FAKETIME_DONT_FAKE_MONOTONIC=1'];

describe('F20: clocks 5 minutes apart change no decision', () => {
  let cluster: FaultCluster;
  afterEach(async () => cluster?.stop());

  it('a replica at +5 min and agents at -5 min: nothing expires early, nobody goes stale, everything runs once', async () => {
    expect(LIBFAKETIME, 'libfaketime (Debian package faketime) is installed').toBeDefined();
    const knobs = { STALENESS_THRESHOLD_SEC: '3', STALENESS_CHECK_INTERVAL: '0.2', DEFAULT_COMMAND_TTL_MS: '60000' };
    cluster = await new FaultCluster('aof').start(['r1'], knobs);
    const r2 = await cluster.startReplica('r2', { ...knobs, LOG_LEVEL: 'info' }, cluster.redis.url, skewed('+300s'));
    // The skew is real: r2 stamps its log lines about five minutes ahead.
    const r2Clock = Date.parse(String(r2.json()[0].time));
    expect(r2Clock - Date.now()).toBeGreaterThan(290_000);
    const startedAt = Date.now();
    await cluster.startSwarm('skew', 20, { HEARTBEAT_INTERVAL: '0.5' }, cluster.target(), skewed('-300s'));
    // ttl_ms 60 s: a replica trusting its own +5 min clock would expire these at once.
    const workload = new Workload(cluster.db, cluster.agentIds('skew', 20), 'f20', 'echo');
    const stop = new AbortController();
    const load = workload.run(50, 8000, stop.signal);
    await load;
    await settled(cluster.db, workload, 20_000);
    const result = await check(cluster.db, workload, cluster.executionLogs);
    const events = (await readEvents(cluster.db)).filter((e) => Number(e.ts) >= startedAt);
    const stale = events.filter((e) => e.type === 'agent_stale' || (e.type === 'agent_disconnected' && e.reason === 'silent'));
    const byReplica = new Set(events.filter((e) => e.type === 'command_queued').map((e) => e.replica));
    console.log(`F20: ${result.acknowledged} commands, routed by ${[...byReplica].join('+')}; stale/silent events ${stale.length}; DLQ ${(await readDlq(cluster.db)).length}; outcomes ${JSON.stringify(result.outcomes)}`);
    expect(byReplica.has('r2')).toBe(true);
    expect(stale).toEqual([]);
    expect(await readDlq(cluster.db)).toEqual([]);
    expect(result.lost).toEqual([]);
    expect(result.duplicated).toEqual([]);
    expect(result.outcomes).toEqual({ succeeded: result.acknowledged });
  });
});
