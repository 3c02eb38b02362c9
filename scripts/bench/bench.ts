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
  mkdirSync(OUT, { recursive: true });
  const machine = { cpus: cpus().length, cpuModel: cpus()[0]?.model, memoryGb: Math.round(totalmem() / 2 ** 30), node: process.version };
  const file = quick ? 'results-quick.json' : 'results.json';
  writeFileSync(join(OUT, file), `${JSON.stringify({ at: new Date().toISOString(), quick, jobs: JOBS, rounds: ROUNDS, machine, throughput: Object.fromEntries(runs) }, null, 2)}\n`);
  if (!quick) writeFileSync(join(OUT, 'throughput.svg'), barChartSvg('End-to-end throughput (Redis AOF everysec, 2 cores)', `jobs/s, ${JOBS.toLocaleString('en-US')} per run, ${ROUNDS} rounds`, rows));
  console.log(`\nraw figures: bench/${file}${quick ? '' : ', chart: bench/throughput.svg'}`);
}

main().catch((err: Error) => {
  console.error(`bench: ${err.message}`);
  process.exit(1);
});
