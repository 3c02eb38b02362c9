#!/usr/bin/env node
/**
 * `npm run bench [-- --quick]`: Nexus and its peers side by side on one private redis-server
 * (AOF everysec), in alternating rounds (A B C D, A B C D, ...). Prints medians with min–max
 * and ratios, writes the raw figures to bench/results.json and a chart to bench/throughput.svg.
 * Scenarios, in order: throughput, latency, fleet, storm, fanout, scaleup. `--only fleet,storm` runs a
 * subset (figures then go to bench/results-fleet-storm.json, never over the full results);
 * `--agents N` sets the fleet/storm and fan-out sizes (tests use tiny ones), `--fanout-agents
 * 1000,5000` the fan-out sizes alone (each: N commands and one broadcast on one Nexus fleet,
 * then the bare grpc-js fan-out), `--slowlog-us 200` the script calls over 200 µs during each
 * broadcast (from SLOWLOG, by script), `--heartbeat S`
 * the fleet's heartbeat interval (1 s), `--per-swarm N` the agents per swarm process,
 * `--rates 1000,5000` and `--latency-ms 5000` the fixed-rate latency runs.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import Redis from 'ioredis';
import { RedisProcess } from '../lib/redis-process';
import type { ThroughputRun } from './bench-types';
import { barChartSvg, latencyChartSvg } from './chart';
import { nexusFanout } from './fanout';
import { nexusFleet, type FleetRun, type FleetShape, type FleetTiming } from './fleet';
import { beeQueueLatency, bullmqLatency, nexusLatency, type LatencyRun } from './latency';
import { nexusThroughput } from './nexus-e2e';
import { bareGroupThroughput } from './peers/bare-group';
import { bareGrpcConnect, bareGrpcFanout, bareGrpcFleet } from './peers/bare-grpc';
import { beeQueueThroughput } from './peers/bee-queue';
import { bullmqThroughput } from './peers/bullmq';
import { scaleUp, type ScaleUpRun, type ScaleUpShape } from './scale-up';
import { printFanout, printFleet, printScaleUp, printStorm, type FanoutSize } from './scenario-tables';
import { median } from './stats';
import { stormAfterKill, type StormRun } from './storm';

const { values: opts } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    jobs: { type: 'string' },
    rounds: { type: 'string' },
    out: { type: 'string' },
    only: { type: 'string' },
    agents: { type: 'string' },
    'fanout-agents': { type: 'string' },
    'slowlog-us': { type: 'string' },
    'per-swarm': { type: 'string' },
    heartbeat: { type: 'string' },
    'latency-ms': { type: 'string' },
    rates: { type: 'string' },
  },
});
const quick = opts.quick ?? false;
const OUT = opts.out ?? join(__dirname, '..', '..', '..', 'bench');
const JOBS = Number(opts.jobs ?? (quick ? 3000 : 100_000));
const ROUNDS = Number(opts.rounds ?? 3);
/** How long each fixed-rate latency run offers load. */
const LATENCY_MS = Number(opts['latency-ms'] ?? (quick ? 1000 : 5000));
const RATES = (opts.rates ?? '1000,5000').split(',').map(Number);

const SCENARIOS = ['throughput', 'latency', 'fleet', 'storm', 'fanout', 'scaleup'];
const ONLY = opts.only ? opts.only.split(',').map((x) => x.trim()) : SCENARIOS;
const selected = (name: string) => ONLY.includes(name);
// Fleet, storm and fan-out: the issue's sizes in a full run, small ones (one round) in --quick
// so that it stays about a minute.
const SCENARIO_ROUNDS = Number(opts.rounds ?? (quick ? 1 : 3));
const FLEET: FleetShape = {
  replicas: 3,
  agents: Number(opts.agents ?? (quick ? 200 : 5000)),
  heartbeatS: Number(opts.heartbeat ?? 1),
  // A swarm process is one event loop: 1,000 agents in one keep their 1 s heartbeats here
  // (998/s measured); 5,000 in one process did not all come online within 120 s.
  perSwarm: Number(opts['per-swarm'] ?? 1000),
  initialBackoffS: 1, // the agents' default: reconnects jittered over [0, 1 s)
};
const FANOUT_AGENTS = (opts['fanout-agents'] ?? opts.agents ?? (quick ? '200' : '1000,5000')).split(',').map(Number);
const SLOWLOG_US = opts['slowlog-us'] === undefined ? undefined : Number(opts['slowlog-us']);
const FLEET_TIMING: FleetTiming = quick ? { startMs: 500, idleMs: 1000, settleMs: 1000, windowMs: 2000 } : { startMs: 2000, idleMs: 3000, settleMs: 5000, windowMs: 10_000 };
/** Scale-up: the fleet's agents (heartbeats every 10 s, their default) on 3 replicas, then a 4th; sessions settle 5 s before (2 s in --quick). */
const SCALE_UP: ScaleUpShape = { replicas: 3, agents: FLEET.agents, perSwarm: FLEET.perSwarm, heartbeatS: 10, settleMs: quick ? 2000 : 5000 };
/** The storm fails (with how many are back) if the agents are not all back by then. */
const STORM_TIMEOUT_MS = 120_000;

const LOAD_AT_START = loadavg();

async function main(): Promise<void> {
  for (const name of ONLY) if (!SCENARIOS.includes(name)) throw new Error(`--only: unknown scenario ${name} (known: ${SCENARIOS.join(', ')})`);
  const redisServer = await new RedisProcess('aof').start();
  const admin = new Redis(redisServer.port, '127.0.0.1');
  const systems: [string, (port: number) => Promise<ThroughputRun>][] = [
    ['Nexus (3 replicas, 30 agents)', (port) => nexusThroughput(port, JOBS, { replicas: 3, agents: 30, concurrency: 16 })],
    ['BullMQ (concurrency 50)', (port) => bullmqThroughput(port, JOBS)],
    ['bee-queue (concurrency 50)', (port) => beeQueueThroughput(port, JOBS)],
    ['bare consumer group', (port) => bareGroupThroughput(port, JOBS)],
  ];
  const runs = new Map<string, ThroughputRun[]>(systems.map(([name]) => [name, []]));
  const latencySystems: [string, (port: number, rate: number, ms: number) => Promise<LatencyRun>][] = [
    ['Nexus', nexusLatency],
    ['BullMQ', bullmqLatency],
    ['bee-queue', beeQueueLatency],
  ];
  const latency = new Map<string, LatencyRun[]>();
  const fleet = { nexus: [] as FleetRun[], bare: [] as FleetRun[] };
  const storm: StormRun[] = [];
  const fanout: FanoutSize[] = FANOUT_AGENTS.map((agents) => ({ agents, nexus: [], bare: [] }));
  const scaleup: ScaleUpRun[] = [];
  // A scenario that fails ends the run, but what was measured before it is still printed and
  // written (with the failure named), not lost.
  let failure: Error | undefined;
  try {
    for (let round = 1; round <= (selected('throughput') ? ROUNDS : 0); round++) {
      for (const [name, run] of systems) {
        // A clean Redis for every run (it is ours: private port, temp dir).
        await admin.flushall();
        const result = await run(redisServer.port);
        runs.get(name)!.push(result);
        console.log(`round ${round}  ${name.padEnd(32)} ${Math.round(result.perSecond).toLocaleString('en-US').padStart(8)} /s`);
      }
    }
    for (const rate of selected('latency') ? RATES : []) {
      for (let round = 1; round <= ROUNDS; round++) {
        for (const [name, run] of latencySystems) {
          await admin.flushall();
          const result = await run(redisServer.port, rate, LATENCY_MS);
          const key = `${name} @ ${rate}/s`;
          latency.set(key, [...(latency.get(key) ?? []), result]);
          console.log(`round ${round}  ${key.padEnd(24)} receipt p99 ${result.receipt.p99} ms, done p99 ${result.done.p99} ms (${result.offered} offered)`);
        }
      }
    }
    for (let round = 1; round <= SCENARIO_ROUNDS; round++) {
      if (selected('fleet')) {
        await admin.flushall();
        const bare = await bareGrpcFleet(FLEET.agents, FLEET.heartbeatS, FLEET.replicas, FLEET_TIMING);
        fleet.bare.push(bare);
        console.log(`round ${round}  fleet bare grpc-js    ${bare.rssPerStreamKb.toFixed(1)} KB/stream, ${bare.cpuPerHeartbeatUs.toFixed(0)} µs CPU/heartbeat, ${bare.heartbeatsPerSecond.toFixed(0)} heartbeats/s`);
      }
      if (selected('fleet') || selected('storm')) {
        // One setup for both: the fleet is measured, then its busiest replica is killed.
        await admin.flushall();
        const { fleet: run, after } = await nexusFleet(redisServer.port, redisServer.pid!, FLEET, FLEET_TIMING, async (cluster) =>
          selected('storm') ? stormAfterKill(cluster, FLEET.agents, FLEET.initialBackoffS * 1000, STORM_TIMEOUT_MS) : undefined,
        );
        // Kept with --only storm too: the fleet was measured anyway, and shows how steady it was.
        fleet.nexus.push(run);
        console.log(`round ${round}  fleet Nexus           ${run.rssPerStreamKb.toFixed(1)} KB/agent, ${run.cpuPerHeartbeatUs.toFixed(0)} µs CPU/heartbeat, ${run.heartbeatsPerSecond.toFixed(0)} heartbeats/s, ${run.sessionsStartedInWindow} sessions started`);
        if (after) {
          // The same number of bare grpc-js streams on the 2 survivors' worth of servers: how fast this machine connects at all.
          after.bare = await bareGrpcConnect(after.agentsOnKilled, FLEET.replicas - 1);
          storm.push(after);
          console.log(`round ${round}  storm                 ${after.agentsOnKilled} agents back in ${after.backMs.toFixed(0)} ms (${after.sessionsStarted} sessions started), peak ${after.peakSessionsPerSecond} sessions/s, lag max ${after.lagMaxMs.toFixed(0)} ms; bare grpc-js connect of ${after.bare.streams} streams ${after.bare.connectMs.toFixed(0)} ms; ${after.logged}`);
        }
      }
      for (const size of selected('fanout') ? fanout : []) {
        await admin.flushall();
        const run = await nexusFanout(redisServer.port, size.agents, FLEET.perSwarm, round, SLOWLOG_US);
        size.nexus.push(run);
        console.log(`round ${round}  fan-out Nexus         ${run.agents} agents: ${run.agents} commands last result after ${run.lastResultMs} ms; broadcast last child ${run.broadcast.lastResultMs} ms, parent finished ${run.broadcast.parentFinishedMs} ms`);
        const bare = await bareGrpcFanout(size.agents, FLEET.replicas);
        size.bare.push(bare);
        console.log(`round ${round}  fan-out bare grpc-js  ${bare.agents} streams: last result after ${bare.lastResultMs} ms`);
      }
      if (selected('scaleup')) {
        await admin.flushall();
        const run = await scaleUp(redisServer.port, SCALE_UP, 120_000);
        scaleup.push(run);
        console.log(`round ${round}  scale-up 3 -> 4        ${run.agents} agents: settled in ${run.settleMs} ms, ${run.moves} moves (${run.movesAfterSettled} after), peak ${run.peakSessionsPerSecond} new sessions/s; ${run.before.join('/')} -> ${run.after.join('/')}; ${run.logged}`);
      }
    }
  } catch (err) {
    failure = err as Error;
    console.error(`bench: ${failure.message}; printing and writing what was measured before it`);
  } finally {
    admin.disconnect();
    await redisServer.destroy();
  }

  const rows = systems.map(([name]) => {
    const xs = runs.get(name)!.map((r) => r.perSecond);
    return { label: name, median: median(xs), min: Math.min(...xs), max: Math.max(...xs) };
  });
  const measured = rows.every((r) => Number.isFinite(r.median));
  if (selected('throughput') && measured) {
    const nexus = rows[0].median;
    console.log(`\nEnd-to-end throughput, ${JOBS.toLocaleString('en-US')} no-op/echo jobs per run, ${ROUNDS} rounds, Redis AOF everysec`);
    console.log('| System | median /s | min–max /s | Nexus ÷ system |');
    console.log('|---|---|---|---|');
    for (const r of rows) {
      console.log(`| ${r.label} | ${Math.round(r.median).toLocaleString('en-US')} | ${Math.round(r.min).toLocaleString('en-US')}–${Math.round(r.max).toLocaleString('en-US')} | ${(nexus / r.median).toFixed(2)} |`);
    }
  }
  if (latency.size > 0) {
    console.log(`\nLatency at fixed offered rates (${LATENCY_MS / 1000} s per run, median over ${ROUNDS} rounds), ms: add -> handler start | add -> done`);
    console.log('| System @ rate | receipt p50 | receipt p99 | receipt max | done p50 | done p99 | done max |');
    console.log('|---|---|---|---|---|---|---|');
    for (const [key, rs] of latency) {
      const m = (f: (r: LatencyRun) => number) => median(rs.map(f));
      console.log(`| ${key} | ${m((r) => r.receipt.p50)} | ${m((r) => r.receipt.p99)} | ${m((r) => r.receipt.max)} | ${m((r) => r.done.p50)} | ${m((r) => r.done.p99)} | ${m((r) => r.done.max)} |`);
    }
    const withHops = [...latency].filter(([, rs]) => rs.every((r) => r.hops));
    if (withHops.length > 0) {
      console.log('\nNexus per hop, ms (median over rounds): XADD -> routed and handed to delivery | -> handler starts on the agent | -> result applied; replicas\' event-loop lag meanwhile');
      console.log('| Rate | routed p50 | routed p99 | to agent p50 | to agent p99 | result applied p50 | result applied p99 | replica lag p99 (worst 250 ms) | replica lag max |');
      console.log('|---|---|---|---|---|---|---|---|---|');
      for (const [key, rs] of withHops) {
        const m = (f: (h: NonNullable<LatencyRun['hops']>) => number) => median(rs.map((r) => f(r.hops!)));
        const lag = (f: (l: NonNullable<LatencyRun['replicaLag']>) => number) => median(rs.map((r) => (r.replicaLag ? f(r.replicaLag) : NaN)));
        console.log(`| ${key} | ${m((h) => h.routed.p50)} | ${m((h) => h.routed.p99)} | ${m((h) => h.toAgent.p50)} | ${m((h) => h.toAgent.p99)} | ${m((h) => h.resultApplied.p50)} | ${m((h) => h.resultApplied.p99)} | ${lag((l) => l.p99Ms)} | ${lag((l) => l.maxMs)} |`);
      }
    }
  }
  if (fleet.nexus.length || fleet.bare.length) printFleet(fleet.nexus, fleet.bare, { replicas: FLEET.replicas, swarms: Math.ceil(FLEET.agents / FLEET.perSwarm), heartbeatS: FLEET.heartbeatS });
  if (storm.length > 0) printStorm(storm);
  printFanout(fanout);
  printScaleUp(scaleup);
  mkdirSync(OUT, { recursive: true });
  // The machine may be shared: the load average before and after says how quiet it was.
  const machine = { loadavg: { start: LOAD_AT_START, end: loadavg() }, cpus: cpus().length, cpuModel: cpus()[0]?.model, memoryGb: Math.round(totalmem() / 2 ** 30), node: process.version };
  // A subset (--only) goes to its own file, so it never replaces a full run's figures.
  const file = `results${quick ? '-quick' : ''}${opts.only ? `-${ONLY.join('-')}` : ''}.json`;
  const scenarios = { fleet: { shape: FLEET, timing: FLEET_TIMING, rounds: SCENARIO_ROUNDS, ...fleet }, storm, fanout, scaleup: { shape: SCALE_UP, runs: scaleup } };
  writeFileSync(join(OUT, file), `${JSON.stringify({ at: new Date().toISOString(), quick, jobs: JOBS, rounds: ROUNDS, only: ONLY, ...(failure ? { failed: failure.message } : {}), machine, throughput: Object.fromEntries(runs), latency: Object.fromEntries(latency), ...scenarios }, null, 2)}\n`);
  const chart = !quick && selected('throughput') && measured;
  if (chart) writeFileSync(join(OUT, 'throughput.svg'), barChartSvg('End-to-end throughput (Redis AOF everysec, 2 cores)', `jobs/s, ${JOBS.toLocaleString('en-US')} per run, ${ROUNDS} rounds`, rows));
  const latencyChart = !quick && selected('latency') && latency.size > 0;
  if (latencyChart) {
    const latencyRows = [...latency].map(([label, rs]) => ({ label, p50: median(rs.map((r) => r.receipt.p50)), p99: median(rs.map((r) => r.receipt.p99)), max: median(rs.map((r) => r.receipt.max)) }));
    writeFileSync(join(OUT, 'latency.svg'), latencyChartSvg('Receipt latency: add -> handler starts (Redis AOF everysec, 2 cores)', `ms, median over ${ROUNDS} rounds of ${LATENCY_MS / 1000} s per rate`, latencyRows));
  }
  console.log(`\nload average (1, 5, 15 min) at start ${LOAD_AT_START.map((l) => l.toFixed(2)).join(' ')}, at end ${loadavg().map((l) => l.toFixed(2)).join(' ')} (${cpus().length} cores)`);
  console.log(`raw figures: ${join(OUT, file)}${chart ? `, chart: ${join(OUT, 'throughput.svg')}` : ''}${latencyChart ? `, ${join(OUT, 'latency.svg')}` : ''}`);
  if (failure) throw failure;
}

main().catch((err: Error) => {
  console.error(`bench: ${err.message}`);
  process.exit(1);
});
