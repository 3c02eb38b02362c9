#!/usr/bin/env node
/**
 * `npm run bench [-- --quick]`: Nexus and its peers side by side on one private redis-server
 * (AOF everysec), in alternating rounds (A B C D, A B C D, ...). Prints medians with min–max
 * and ratios, writes the raw figures to bench/results.json and a chart to bench/throughput.svg.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import Redis from 'ioredis';
import { RedisProcess } from '../lib/redis-process';
import type { ThroughputRun } from './bench-types';
import { barChartSvg } from './chart';
import { beeQueueLatency, bullmqLatency, nexusLatency, type LatencyRun } from './latency';
import { nexusThroughput } from './nexus-e2e';
import { bareGroupThroughput } from './peers/bare-group';
import { beeQueueThroughput } from './peers/bee-queue';
import { bullmqThroughput } from './peers/bullmq';

const { values: opts } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    jobs: { type: 'string' },
    rounds: { type: 'string' },
    out: { type: 'string' },
  },
});
const quick = opts.quick ?? false;
const OUT = opts.out ?? join(__dirname, '..', '..', '..', 'bench');
const JOBS = Number(opts.jobs ?? (quick ? 3000 : 100_000));
const ROUNDS = Number(opts.rounds ?? 3);
/** How long each fixed-rate latency run offers load. */
const LATENCY_MS = quick ? 1000 : 5000;
const RATES = [1000, 5000];

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function main(): Promise<void> {
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
  try {
    for (let round = 1; round <= ROUNDS; round++) {
      for (const [name, run] of systems) {
        // A clean Redis for every run (it is ours: private port, temp dir).
        await admin.flushall();
        const result = await run(redisServer.port);
        runs.get(name)!.push(result);
        console.log(`round ${round}  ${name.padEnd(32)} ${Math.round(result.perSecond).toLocaleString('en-US').padStart(8)} /s`);
      }
    }
    for (const rate of RATES) {
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
  } finally {
    admin.disconnect();
    await redisServer.destroy();
  }

  const rows = systems.map(([name]) => {
    const xs = runs.get(name)!.map((r) => r.perSecond);
    return { label: name, median: median(xs), min: Math.min(...xs), max: Math.max(...xs) };
  });
  const nexus = rows[0].median;
  console.log(`\nEnd-to-end throughput, ${JOBS.toLocaleString('en-US')} no-op/echo jobs per run, ${ROUNDS} rounds, Redis AOF everysec`);
  console.log('| System | median /s | min–max /s | Nexus ÷ system |');
  console.log('|---|---|---|---|');
  for (const r of rows) {
    console.log(`| ${r.label} | ${Math.round(r.median).toLocaleString('en-US')} | ${Math.round(r.min).toLocaleString('en-US')}–${Math.round(r.max).toLocaleString('en-US')} | ${(nexus / r.median).toFixed(2)} |`);
  }
  console.log(`\nLatency at fixed offered rates (${LATENCY_MS / 1000} s per run, median over ${ROUNDS} rounds), ms: add -> handler start | add -> done`);
  console.log('| System @ rate | receipt p50 | receipt p99 | receipt max | done p50 | done p99 | done max |');
  console.log('|---|---|---|---|---|---|---|');
  for (const [key, rs] of latency) {
    const m = (f: (r: LatencyRun) => number) => median(rs.map(f));
    console.log(`| ${key} | ${m((r) => r.receipt.p50)} | ${m((r) => r.receipt.p99)} | ${m((r) => r.receipt.max)} | ${m((r) => r.done.p50)} | ${m((r) => r.done.p99)} | ${m((r) => r.done.max)} |`);
  }
  mkdirSync(OUT, { recursive: true });
  const machine = { cpus: cpus().length, cpuModel: cpus()[0]?.model, memoryGb: Math.round(totalmem() / 2 ** 30), node: process.version };
  const file = quick ? 'results-quick.json' : 'results.json';
  writeFileSync(join(OUT, file), `${JSON.stringify({ at: new Date().toISOString(), quick, jobs: JOBS, rounds: ROUNDS, machine, throughput: Object.fromEntries(runs), latency: Object.fromEntries(latency) }, null, 2)}\n`);
  if (!quick) writeFileSync(join(OUT, 'throughput.svg'), barChartSvg('End-to-end throughput (Redis AOF everysec, 2 cores)', `jobs/s, ${JOBS.toLocaleString('en-US')} per run, ${ROUNDS} rounds`, rows));
  console.log(`\nraw figures: bench/${file}${quick ? '' : ', chart: bench/throughput.svg'}`);
}

main().catch((err: Error) => {
  console.error(`bench: ${err.message}`);
  process.exit(1);
});
